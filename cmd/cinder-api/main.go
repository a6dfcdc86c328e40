// Command cinder-api serves Cinder's REST API v3.
package main

import "github.com/cinder-go/cinder/service"

func main() { service.Main("cinder-api", service.RunAPI) }
