// Command cinder-backup runs the backup service with the posix driver.
package main

import "github.com/cinder-go/cinder/service"

func main() { service.Main("cinder-backup", service.RunBackup) }
