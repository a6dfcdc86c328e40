// Command cinder-volume runs one volume manager per enabled backend.
package main

import "github.com/cinder-go/cinder/service"

func main() { service.Main("cinder-volume", service.RunVolume) }
