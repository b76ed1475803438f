// Command goempty is the floor of any Go command-line tool on this machine:
// a static Go binary whose main returns at once. scripts/bench.sh times it
// beside `sandbox run` to separate the Go process's own start-up and exit
// from the sandbox's work.
package main

func main() {}
