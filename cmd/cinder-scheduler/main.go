// Command cinder-scheduler places new volumes on backends.
package main

import "github.com/cinder-go/cinder/service"

func main() { service.Main("cinder-scheduler", service.RunScheduler) }
