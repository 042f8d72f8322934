package routersim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Each profile accepts the configuration its release has and refuses the
// rest with the CLI's own message (schema.go cites the templates and
// migration scripts).
func TestProfilesAreStrictPerRelease(t *testing.T) {
	all := []Profile{Vyatta65, VyOS13, VyOS14, VyOS15}
	cases := []struct {
		stmt   string
		ok     []Profile
		refuse string // the part of the message naming the bad word (| between alternatives)
	}{
		{"firewall name WAN-IN default-action drop", []Profile{Vyatta65, VyOS13}, "firewall [name]"},
		{"firewall name WAN-IN rule 10 state established enable", []Profile{Vyatta65, VyOS13}, "firewall [name]"},
		{"firewall ipv4 name WAN-IN rule 10 state established", []Profile{VyOS14, VyOS15}, "firewall [ipv4]"},
		{"nat source rule 10 outbound-interface eth2", []Profile{Vyatta65, VyOS13}, "outbound-interface [eth2]"},
		// Before 1.4 the interface is the leaf's value: "name" is taken
		// as one and the word after it is too many.
		{"nat source rule 10 outbound-interface name eth2", []Profile{VyOS14, VyOS15}, "outbound-interface name [eth2]"},
		{"nat destination rule 20 inbound-interface name eth2", []Profile{VyOS14, VyOS15}, "inbound-interface name [eth2]"},
		{"protocols static interface-route 198.51.100.254/32 next-hop-interface eth2", []Profile{Vyatta65, VyOS13}, "static [interface-route]"},
		{"protocols static route 198.51.100.254/32 interface eth2", []Profile{VyOS14, VyOS15}, "198.51.100.254/32 [interface]"},
		{"system gateway-address 198.51.100.254", []Profile{Vyatta65}, "system [gateway-address]"},
		{"system login user admin level admin", []Profile{Vyatta65}, "admin [level]"},
		{"service https api keys id k key secret", []Profile{VyOS13, VyOS14, VyOS15}, "service [https]"},
		{"service https api rest", []Profile{VyOS15}, "api [rest]|service [https]"},
	}
	for _, p := range all {
		r, err := New(p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			err := r.SetConfig("set " + c.stmt)
			want := false
			for _, q := range c.ok {
				want = want || q == p
			}
			switch {
			case want && err != nil:
				t.Errorf("%s refuses %q: %v", p, c.stmt, err)
			case !want && err == nil:
				t.Errorf("%s accepts %q, which its release does not have", p, c.stmt)
			case !want && !names(err.Error(), c.refuse):
				t.Errorf("%s refuses %q with %q, want the CLI's message naming %s", p, c.stmt, err, c.refuse)
			}
		}
	}
	// The firewall state of 1.4 is one of four words.
	r, _ := New(VyOS14, Options{})
	if err := r.SetConfig("set firewall ipv4 name W rule 1 state enable"); err == nil {
		t.Error("state enable accepted on 1.4")
	}
}

// The HTTP API offers the endpoints each release's server registers, and
// its show answers what the release's op mode has.
func TestHTTPAPIPerRelease(t *testing.T) {
	for _, p := range []Profile{VyOS13, VyOS14, VyOS15} {
		r := start(t, p, Options{})
		key := r.APIKey()
		form := func(data string) url.Values { return url.Values{"key": {key}, "data": {data}} }
		status, _, _ := post(t, r, "/configure-section", form(`{"op":"set","path":["interfaces"],"section":{}}`))
		if want := p != VyOS13; (status != http.StatusNotFound) != want {
			t.Errorf("%s: /configure-section answered %d", p, status)
		}
		status, m, _ := post(t, r, "/generate", form(`{"op":"generate","path":["frobnicate"]}`))
		if status != 400 || !strings.Contains(m["error"].(string), "Invalid command: generate [frobnicate]") {
			t.Errorf("%s: /generate: %d %v", p, status, m)
		}
		resp, err := apiClient(r).Get(r.APIURL() + "/info")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := p == VyOS15; (resp.StatusCode == 200) != want {
			t.Errorf("%s: GET /info answered %d", p, resp.StatusCode)
		}
		for _, c := range []struct {
			path, want string
			status     int
		}{
			{`["version"]`, "Version:          VyOS", 200},
			{`["ip","route","forward"]`, "", 200},
			{`["interfaces"]`, "Interface        IP Address", 200},
			{`["configuration","commands"]`, "set service ssh port '22'", 200},
			{`["frobnicate"]`, "Invalid command: show [frobnicate]", 400},
			{`["ip","bgp","summary"]`, "Invalid command: show ip [bgp]", 400},
		} {
			status, m, _ := post(t, r, "/show", form(`{"op":"show","path":`+c.path+`}`))
			text, _ := m["data"].(string)
			if status != 200 {
				text, _ = m["error"].(string)
			}
			if status != c.status || !strings.Contains(text, c.want) {
				t.Errorf("%s: show %s: %d %q", p, c.path, status, text)
			}
		}
		_, m, _ = post(t, r, "/show", form(`{"op":"show","path":["arp"]}`))
		header := "Address         Interface    Link layer address    State"
		if p == VyOS13 {
			header = "Address                  HWtype  HWaddress           Flags Mask            Iface"
		}
		if text, _ := m["data"].(string); !strings.HasPrefix(text, strings.Fields(header)[0]) || !strings.Contains(text, strings.Fields(header)[1]) {
			t.Errorf("%s: show arp: %q", p, text)
		}
	}
}

func names(msg, alternatives string) bool {
	if !strings.Contains(msg, "Configuration path: ") {
		return false
	}
	for _, a := range strings.Split(alternatives, "|") {
		if strings.Contains(msg, a+" is not valid") {
			return true
		}
	}
	return false
}
