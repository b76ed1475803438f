package main

import (
	"fmt"
	"net"
	"strings"
)

// net: list interfaces with their flags, then connect to a listener on
// 127.0.0.1 ("loopback ok" or the error).
func init() {
	commands["net"] = func(a []string) error {
		ifs, err := net.Interfaces()
		if err != nil {
			return err
		}
		var names []string
		for _, i := range ifs {
			names = append(names, i.Name+"("+i.Flags.String()+")")
		}
		fmt.Println("interfaces", strings.Join(names, " "))
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Println("loopback", errnoName(err))
			return nil
		}
		defer l.Close()
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			fmt.Println("loopback", errnoName(err))
			return nil
		}
		c.Close()
		fmt.Println("loopback ok")
		return nil
	}
}
