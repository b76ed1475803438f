// Package sandbox runs commands in container-style sandboxes.
//
// The library face: DefaultSpec is the sandbox `sandbox run` uses, as an
// OCI runtime spec; the oci package compiles any spec into a spawn program.
package sandbox
