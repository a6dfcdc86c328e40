package db

import (
	"context"
	"testing"
	"time"

	"github.com/cinder-go/cinder"
)

func TestMessages(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := synced(t, url)
		now := time.Now().UTC()
		mine := &cinder.Message{ProjectID: "p1", RequestID: "req-1", ResourceType: "VOLUME", ResourceUUID: "4d1a6f1e-0000-4000-8000-000000000001",
			EventID: "VOLUME_VOLUME_001_003", Level: "ERROR", UserMessage: "schedule allocate volume: Could not find any available weighted backend.",
			ExpiresAt: now.Add(time.Hour)}
		other := &cinder.Message{ProjectID: "p2", EventID: "VOLUME_VOLUME_001_003", Level: "ERROR", ExpiresAt: now.Add(time.Hour)}
		expired := &cinder.Message{ProjectID: "p1", EventID: "VOLUME_VOLUME_001_003", Level: "ERROR", ExpiresAt: now.Add(-time.Second)}
		for _, m := range []*cinder.Message{mine, other, expired} {
			if err := db.CreateMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.GetMessage(ctx, mine.ID)
		if err != nil {
			t.Fatal(err)
		}
		if *got != *mine {
			t.Fatalf("message round trip:\n got %+v\nwant %+v", got, mine)
		}
		list, err := db.ListMessages(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != mine.ID {
			t.Fatalf("p1's unexpired messages: %+v", list)
		}
		if all, _ := db.ListMessages(ctx, ""); len(all) != 2 {
			t.Fatalf("all unexpired messages: %d, want 2", len(all))
		}
		_, err = db.GetMessage(ctx, expired.ID)
		wantCode(t, err, 404, "MessageNotFound")
		if err := db.DeleteMessage(ctx, mine.ID); err != nil {
			t.Fatal(err)
		}
		_, err = db.GetMessage(ctx, mine.ID)
		wantCode(t, err, 404, "MessageNotFound")
		wantCode(t, db.DeleteMessage(ctx, mine.ID), 404, "MessageNotFound")
	})
}
