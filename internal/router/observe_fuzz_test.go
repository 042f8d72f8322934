package router

import (
	"errors"
	"strings"
	"testing"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// FuzzHealthCheckOutput feeds anything through the health-check script's
// reader: it must never panic, output it cannot read is an error the
// controller can report, and what it accepts is what the listing says.
func FuzzHealthCheckOutput(f *testing.F) {
	const nonce = "0123456789abcdef"
	sec := func(name, body string, exit int) string {
		return "@@" + nonce + ":" + name + "\n" + body + "@@" + nonce + ":end " + string(rune('0'+exit)) + "\n"
	}
	good := sec(secVersion, "Version:      VC6.5R1\n", 0) +
		sec(secRunning, "set interfaces ethernet 'eth2' address '203.0.113.123/32'\n", 0) +
		sec(secSaved, "interfaces {\n    ethernet eth2 {\n        address 203.0.113.123/32\n    }\n}\n", 0) +
		sec(secBoot, markPresent+"\n"+markExecutable+"\n"+markContent+"\n#!/bin/sh\n", 0) +
		sec(secRoutes, "default dev eth2 proto zebra \n", 0) +
		sec(secNeigh, "IP address       HW type     Flags       HW address            Mask     Device\n", 0)
	f.Add(good)
	f.Add("Welcome to VyOS!\n\n" + good)
	f.Add(good[:len(good)/2])
	f.Add(strings.ReplaceAll(good, "end 0", "end x"))
	f.Add(strings.ReplaceAll(good, "\n@@", "@@"))
	f.Add("")
	order := []string{secVersion, secRunning, secSaved, secBoot, secRoutes, secNeigh}
	f.Fuzz(func(t *testing.T, out string) {
		secs, err := splitSections(out, nonce, order)
		if err != nil {
			if ce := (*cause.Error)(nil); !errors.As(err, &ce) {
				t.Fatalf("an error the controller cannot report: %v", err)
			}
			return
		}
		o, err := parseObservation(PlatformInfo{Platform: Vyatta6}, ObserveRequest{Owned: []Path{{"interfaces"}}, BootScript: true, Dev: "eth2"}, secs)
		if err != nil {
			var ce *cause.Error
			var pm *PlatformMismatch
			if !errors.As(err, &ce) && !errors.As(err, &pm) {
				t.Fatalf("an error the controller cannot report: %v", err)
			}
			return
		}
		// Accepted: the configuration is what the section listed, and the
		// listing had at least one statement (an empty one is refused).
		all, err := ParseCommands(secs[secRunning].out)
		if err != nil || len(all) == 0 || !o.Running.Equal(all.Owned([]Path{{"interfaces"}})) {
			t.Fatalf("accepted %+v from a listing that parses as %v (%v)", o.Running, all, err)
		}
	})
}
