package main

import (
	"math"
	"slices"
	"strings"
)

// The targets.
const (
	goalMemory    = 64 * mib
	goalScaleSecs = 5
	goalE2ERatio  = 1.3

	goalReflinkSecs    = 1   // N: a snapshot or clone by reflink
	goalCopyRatio      = 1.2 // N: a snapshot or clone by the engine ÷ the engine's copy
	goalBackupQemu     = 1.0 // B: full backup ÷ qemu-img convert -c -O qcow2
	goalBackupCinder   = 0.2 // B: full backup ÷ Cinder's posix driver
	goalIncrementalPer = 0.2 // B: incremental with change tracking ÷ full backup, on xfs reflink
	goalRestorePer     = 1.0 // B: restore ÷ full backup
)

// goals checks the targets against the measurements.
func goals(copies []row, control []controlRow) []goal {
	var gs []goal
	ran := func(c string) bool { return find(copies, c, toolEngine) != nil }
	ratio := func(what, c string, limit float64, tools ...string) {
		gs = append(gs, engineRatio(copies, what, c, limit, tools...))
	}
	if ran(caseS) {
		ratio("S: engine ÷ fastest of qemu-img, nbdcopy, cp", caseS, 1.0, toolQemu, toolNbdcopy, toolCp)
		ratio("S: engine ÷ dd conv=sparse", caseS, 0.5, toolDDSparse)
	}
	if ran(caseF) {
		ratio("F: engine ÷ nbdcopy", caseF, 1.0, toolNbdcopy)
		ratio("F: engine ÷ dd bs=1M", caseF, 0.6, toolDD)
		gs = append(gs, allocationGoal(copies, caseF))
	}
	for _, c := range []string{caseTFile, caseTLoop} {
		if ran(c) {
			ratio("T: engine ÷ qemu-img convert -n ("+c+")", c, 1.0, toolQemu)
			ratio("T: engine ÷ dd bs=1M ("+c+")", c, 0.35, toolDD)
			gs = append(gs, staleGoal(copies, c))
		}
	}
	for _, r := range copies {
		switch {
		case strings.HasPrefix(r.Case, "L ") && strings.HasPrefix(r.Tool, "migration"):
			gs = append(gs, goal{What: "L: migration, action to success", Value: r.Seconds, Limit: goalScaleSecs, Unit: "s"})
		case strings.HasPrefix(r.Case, "E ") && strings.HasPrefix(r.Tool, "migration") && r.Ratio > 0:
			gs = append(gs, goal{What: r.Case + ": migration ÷ engine copy", Value: 1 / r.Ratio, Limit: goalE2ERatio, Unit: "×"})
		}
	}
	gs = append(gs, snapshotGoals(copies)...)
	if full := find(copies, caseBFull, toolBackup); full != nil {
		ratio("B: full backup ÷ qemu-img convert -c -O qcow2", caseBFull, goalBackupQemu, toolQcow2)
		ratio("B: full backup ÷ Cinder's posix driver", caseBFull, goalBackupCinder, toolCinderPosix)
		gs = append(gs, timeRatio("B: incremental, 1% changed, change tracking ÷ full backup (xfs reflink)",
			find(copies, caseBReflinkIncr, toolBackupThin), find(copies, caseBReflinkFull, toolBackupThin), goalIncrementalPer),
			timeRatio("B: restore ÷ full backup", find(copies, caseBRestore, toolRestore), full, goalRestorePer))
	}
	gs = append(gs, memoryGoal(copies))
	return append(gs, controlGoals(control)...)
}

// engineRatio is the engine's time over the fastest of tools on case c.
func engineRatio(copies []row, what, c string, limit float64, tools ...string) goal {
	g := goal{What: what, Limit: limit, Unit: "×", Missing: "no run of " + strings.Join(tools, ", ")}
	for _, t := range tools {
		if r := find(copies, c, t); r != nil && r.measured() && r.Ratio > 0 {
			g.Value, g.Missing = max(g.Value, r.Ratio), ""
		}
	}
	return g
}

// snapshotGoals checks case N's snapshots and clones: by reflink within
// goalReflinkSecs, otherwise within goalCopyRatio of the engine's copy.
func snapshotGoals(copies []row) []goal {
	var gs []goal
	for _, r := range copies {
		switch {
		case r.Case == caseNReflink: // skipped or failed
			gs = append(gs, goal{What: caseNReflink + ": snapshot and clones", Limit: goalReflinkSecs, Unit: "s", Missing: r.Note})
		case strings.HasPrefix(r.Case, caseNReflink) && strings.HasPrefix(r.Tool, "thin "):
			gs = append(gs, goal{What: r.Case + ": " + r.Tool, Value: r.Seconds, Limit: goalReflinkSecs, Unit: "s"})
		case strings.HasPrefix(r.Case, caseNWorkDir) && strings.HasPrefix(r.Tool, "thin "):
			gs = append(gs, timeRatio(r.Case+": "+r.Tool+" ÷ engine copy", &r, find(copies, r.Case, toolEngine), goalCopyRatio))
		}
	}
	return gs
}

// timeRatio is r's time over ref's, either of which may be missing.
func timeRatio(what string, r, ref *row, limit float64) goal {
	g := goal{What: what, Limit: limit, Unit: "×"}
	if r == nil || ref == nil || !r.measured() || !ref.measured() {
		g.Missing = "not both measured"
		return g
	}
	g.Value = r.Seconds / ref.Seconds
	return g
}

// allocationGoal is how far the engine's destination allocation is from
// the source's non-zero bytes on case c, which ran, in percent.
func allocationGoal(copies []row, c string) goal {
	g := goal{What: c + ": engine allocation vs the source's non-zero bytes", Limit: 2, Unit: "%"}
	r := find(copies, c, toolEngine)
	if r.Allocated == 0 || r.SourceData == 0 {
		g.Missing = "the engine failed"
		return g
	}
	g.Value = 100 * math.Abs(float64(r.Allocated-r.SourceData)) / float64(r.SourceData)
	return g
}

// staleGoal is the engine's stale extents on case c, which ran.
func staleGoal(copies []row, c string) goal {
	g := goal{What: "T: engine stale MiB blocks (" + c + ")", Unit: "blocks"}
	r := find(copies, c, toolEngine)
	if r.Stale == nil {
		g.Missing = "the engine failed"
		return g
	}
	g.Value = float64(*r.Stale)
	return g
}

// ours are the tools of this project, whose memory has a goal.
var ours = []string{toolEngine, toolManage, toolSnapshot, toolClone, toolFromSnapshot, toolBackup, toolRestore, toolBackupThin}

// memoryGoal is the largest peak RSS of this project's copies, snapshots,
// clones, backups and restores over every case.
func memoryGoal(copies []row) goal {
	g := goal{What: "memory: peak RSS of the engine, thin driver and backups, every case", Limit: goalMemory / mib, Unit: "MiB", Missing: "no run"}
	for _, r := range copies {
		if slices.Contains(ours, r.Tool) && r.PeakRSS > 0 {
			g.Value, g.Missing = max(g.Value, float64(r.PeakRSS)/mib), ""
		}
	}
	return g
}

// controlGoals checks each control-plane figure that has a goal.
func controlGoals(control []controlRow) []goal {
	limits := map[string]goal{
		measureCreate:    {Limit: goalCreateMs, Unit: "ms"},
		measureDetailRPS: {Limit: goalDetailRPS, Unit: "req/s", AtLeast: true},
		measureCaps:      {Limit: goalCapsMs, Unit: "ms"},
	}
	var gs []goal
	for _, r := range control {
		g, ok := limits[r.Measure]
		if !ok {
			continue
		}
		g.What, g.Value = r.Transport+": "+r.Measure, r.Value
		if r.Value == 0 {
			g.Missing = r.Note
		}
		gs = append(gs, g)
	}
	return gs
}

// find returns the row of tool on case c, or nil.
func find(copies []row, c, tool string) *row {
	for i := range copies {
		if copies[i].Case == c && copies[i].Tool == tool {
			return &copies[i]
		}
	}
	return nil
}
