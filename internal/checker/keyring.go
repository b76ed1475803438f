package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// keyring: the id of this process's session keyring (or the errno).
func init() {
	commands["keyring"] = func(a []string) error {
		id, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
		if err != nil {
			fmt.Println(errnoName(err))
			return nil
		}
		fmt.Println(id)
		return nil
	}
}
