//go:build race

package main

// raceDetector tells tests that only drive runbot processes (built without
// the detector) that this run checks nothing more than the plain one did.
const raceDetector = true
