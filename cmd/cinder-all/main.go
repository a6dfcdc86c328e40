// Command cinder-all runs cinder-api, cinder-scheduler and cinder-volume in one
// process: the embedded default, over transport_url = fake:// and SQLite.
package main

import "github.com/cinder-go/cinder/service"

func main() { service.Main("cinder-all", service.RunAll) }
