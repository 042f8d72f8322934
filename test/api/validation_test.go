package api_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// apply pipes a manifest to `kubectl apply -f -` in the given namespace.
func apply(t *testing.T, ns, manifest string) (string, error) {
	t.Helper()
	cmd := cp.KubectlCmd("apply", "-n", ns, "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := cp.Run(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func namespace(t *testing.T, name string) string {
	t.Helper()
	kubectl(t, "create", "namespace", name)
	return name
}

func TestSamplesApply(t *testing.T) {
	ns := namespace(t, "samples")
	root := filepath.Join("..", "..", "config", "samples")
	out := kubectl(t, "apply", "-n", ns, "-f", root)
	for _, want := range []string{
		"failoverip.ovhbridge.io/router-wan created",
		"failoverip.ovhbridge.io/web-wan created",
		"bridgedvm.ovhbridge.io/vyatta created",
		"bridgedvm.ovhbridge.io/web1 created",
		"routerconfig.ovhbridge.io/edge created",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("apply output lacks %q:\n%s", want, out)
		}
	}
	// Defaults are filled in by the API server, so users see the effective
	// policy without reading docs.
	got := kubectl(t, "get", "-n", ns, "fip", "router-wan", "-o",
		"jsonpath={.spec.managementPolicy}/{.spec.deletionPolicy}/{.spec.ovh.syncInterval}")
	if got != "Manage/Orphan/1m" {
		t.Errorf("defaults = %q, want Manage/Orphan/1m", got)
	}
	got = kubectl(t, "get", "-n", ns, "rtc", "edge", "-o",
		"jsonpath={.spec.router.platform}/{.spec.wan.gatewayRouteMode}/{.spec.nat.destination[0].protocol}")
	if got != "auto/Auto/tcp" {
		t.Errorf("router defaults = %q, want auto/Auto/tcp", got)
	}
	// Every sample file is valid on its own, too (users copy them one by one).
	files, _ := filepath.Glob(filepath.Join(root, "*.yaml"))
	if len(files) < 4 {
		t.Fatalf("expected at least 4 sample files, found %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := apply(t, ns, string(data)); err != nil {
			t.Errorf("%s: %v\n%s", f, err, out)
		}
	}
}

const goodFIP = `
apiVersion: ovhbridge.io/v1alpha1
kind: FailoverIP
metadata: {name: NAME}
spec:
  ip: 203.0.113.123
  server: ns123456.ip-198-51-100.eu
  virtualMAC: {type: vmware, vmName: vyatta}
  reverse: router.example.com.
  ovh: {credentialsSecretRef: {name: ovh}}
`

const goodBlockFIP = `
apiVersion: ovhbridge.io/v1alpha1
kind: FailoverIP
metadata: {name: NAME}
spec:
  ip: 203.0.113.120/29
  server: ns123456.ip-198-51-100.eu
  addresses:
    - {ip: 203.0.113.121, virtualMAC: {type: vmware, vmName: mail}, reverse: mail.example.com}
    - {ip: 203.0.113.122, virtualMAC: {vmName: mail}}
  ovh: {credentialsSecretRef: {name: ovh}}
`

const goodBVM = `
apiVersion: ovhbridge.io/v1alpha1
kind: BridgedVM
metadata: {name: NAME}
spec:
  esxi: {credentialsSecretRef: {name: esxi}}
  vmName: vyatta
  nics:
    - {label: Network adapter 1, portGroup: LAN}
    - {label: Network adapter 2, portGroup: WAN, mac: "00:50:56:00:00:01"}
`

const goodRTC = `
apiVersion: ovhbridge.io/v1alpha1
kind: RouterConfig
metadata: {name: NAME}
spec:
  router: {driver: ssh, address: 10.0.10.254, credentialsSecretRef: {name: router}}
  wan: {interface: eth2, gateway: 198.51.100.254}
  interfaces:
    - {name: eth1, addresses: [10.0.10.254/24], description: LAN}
    - {name: eth2, addresses: [203.0.113.123/32], description: WAN}
  nat:
    source:
      - {rule: 10, outboundInterface: eth2, sourceAddress: 10.0.10.0/24}
    destination:
      - {rule: 20, inboundInterface: eth2, port: 25565, translationAddress: 10.0.10.10}
`

// goodRTC6 is goodRTC dual stack: the WAN's IPv6 address in the server's
// block, OVH's IPv6 gateway outside it (the end of the enclosing /56), and
// an address from a FailoverIP's block on the LAN.
const goodRTC6 = `
apiVersion: ovhbridge.io/v1alpha1
kind: RouterConfig
metadata: {name: NAME}
spec:
  router: {driver: ssh, address: 10.0.10.254, credentialsSecretRef: {name: router}}
  wan:
    interface: eth2
    gateway: 198.51.100.254
    ipv6: {gateway: "2001:db8:1:ff:ff:ff:ff:ff"}
  interfaces:
    - name: eth1
      addresses: [10.0.10.254/24]
      ipv6: {addressFrom: {failoverIPRef: {name: router-wan}, host: "::1:0:0:1", prefixLength: 80}}
    - name: eth2
      addresses: [203.0.113.123/32]
      ipv6: {addresses: ["2001:db8:1:1::123/64"]}
`

// TestBadObjectsRejected is the table of mistakes people make, each refused by
// `kubectl apply` with a message that says what is wrong.
func TestBadObjectsRejected(t *testing.T) {
	ns := namespace(t, "bad")
	cases := []struct {
		name     string
		base     string
		old, new string // textual edit of the base manifest
		want     []string
	}{
		{"ip not an address", goodFIP, "ip: 203.0.113.123", "ip: 300.1.2.3",
			[]string{"spec.ip", "must be an IPv4 address such as 203.0.113.123"}},
		{"ipv6 failover ip", goodFIP, "ip: 203.0.113.123", `ip: "2001:db8::1"`,
			[]string{"spec.ip", "must be an IPv4 address"}},
		{"block not on its network address", goodFIP, "ip: 203.0.113.123", "ip: 203.0.113.123/29",
			[]string{"spec.ip", "network address, e.g. 203.0.113.120/29"}},
		{"virtual MAC on a whole block", goodFIP, "ip: 203.0.113.123", "ip: 203.0.113.120/29",
			[]string{"a virtual MAC is bound to one address"}},
		{"reverse not a host name", goodFIP, "reverse: router.example.com.", "reverse: router_1.example.com",
			[]string{"spec.reverse", "must be a fully qualified host name such as mail.example.com"}},
		{"reverse without a domain", goodFIP, "reverse: router.example.com.", "reverse: router",
			[]string{"spec.reverse", "must be a fully qualified host name"}},
		{"reverse that is an IP", goodFIP, "reverse: router.example.com.", "reverse: 203.0.113.123",
			[]string{"spec.reverse", "must be a fully qualified host name"}},
		{"reverse of a whole block", goodFIP, "ip: 203.0.113.123\n  server: ns123456.ip-198-51-100.eu\n  virtualMAC: {type: vmware, vmName: vyatta}",
			"ip: 203.0.113.120/29\n  server: ns123456.ip-198-51-100.eu",
			[]string{"spec.reverse is the reverse DNS of one address"}},
		{"addresses of a single IP", goodFIP, "reverse: router.example.com.",
			"addresses: [{ip: 203.0.113.123, reverse: router.example.com}]",
			[]string{"spec.addresses lists addresses of a block"}},
		{"address outside the block", goodBlockFIP, "ip: 203.0.113.122,", "ip: 203.0.113.130,",
			[]string{"every address of spec.addresses must be inside the block of spec.ip"}},
		{"address listed twice", goodBlockFIP, "ip: 203.0.113.122,", "ip: 203.0.113.121,",
			[]string{"spec.addresses[1]", "Duplicate value"}},
		{"address carrying nothing", goodBlockFIP, "{ip: 203.0.113.122, virtualMAC: {vmName: mail}}", "{ip: 203.0.113.122}",
			[]string{"spec.addresses[1]", "an address lists what it carries"}},
		{"address with a prefix length", goodBlockFIP, "ip: 203.0.113.122,", "ip: 203.0.113.122/32,",
			[]string{"spec.addresses[1].ip", "without a prefix length"}},
		{"virtualMAC and addresses on a block", goodBlockFIP, "  ovh: {", "  virtualMAC: {vmName: mail}\n  ovh: {",
			[]string{"for a block, give each address its virtual MAC under spec.addresses"}},
		{"macFrom address not an IP", goodBVM, `mac: "00:50:56:00:00:01"`,
			`macFrom: {failoverIPRef: {name: blk}, address: 203.0.113.121/32}`,
			[]string{"spec.nics[1].macFrom.address", "an address of the FailoverIP's block"}},
		{"server with upper case and spaces", goodFIP, "server: ns123456.ip-198-51-100.eu", "server: My Server",
			[]string{"spec.server", "must be an OVH service name"}},
		{"unknown virtual MAC type", goodFIP, "type: vmware", "type: xen",
			[]string{"spec.virtualMAC.type", `Unsupported value: "xen"`, `"vmware"`, `"ovh"`}},
		{"unknown management policy", goodFIP, "server: ns", "managementPolicy: Sometimes\n  server: ns",
			[]string{"spec.managementPolicy", `Unsupported value: "Sometimes"`, `"Manage"`, `"Observe"`}},
		{"missing credentials", goodFIP, "ovh: {credentialsSecretRef: {name: ovh}}", "ovh: {}",
			[]string{"spec.ovh.credentialsSecretRef", "Required value"}},
		{"sync interval too short", goodFIP, "ovh: {credentialsSecretRef: {name: ovh}}",
			"ovh: {credentialsSecretRef: {name: ovh}, syncInterval: 100ms}",
			[]string{"spec.ovh.syncInterval", "at least 1s"}},
		{"bad MAC", goodBVM, `mac: "00:50:56:00:00:01"`, `mac: "00:50:56:zz:00:01"`,
			[]string{"spec.nics[1].mac", "six colon-separated hex pairs"}},
		{"multicast MAC", goodBVM, `mac: "00:50:56:00:00:01"`, `mac: "01:00:5e:00:00:01"`,
			[]string{"spec.nics[1].mac", "must be a unicast MAC"}},
		{"both mac and macFrom", goodBVM, `mac: "00:50:56:00:00:01"`,
			`mac: "00:50:56:00:00:01", macFrom: {failoverIPRef: {name: router-wan}}`,
			[]string{"spec.nics[1]", "at most one of mac and macFrom"}},
		{"NIC with both label and index", goodBVM, "label: Network adapter 1,", "label: Network adapter 1, index: 0,",
			[]string{"spec.nics[0]", "exactly one of label"}},
		{"same NIC twice", goodBVM, "label: Network adapter 2", "label: Network adapter 1",
			[]string{"spec", "each NIC label may appear only once"}},
		{"unknown power state", goodBVM, "vmName: vyatta", "vmName: vyatta\n  powerState: Suspended",
			[]string{"spec.powerState", `Unsupported value: "Suspended"`}},
		{"guest IPv6 required of a guest not looked at", goodBVM, "vmName: vyatta", "vmName: vyatta\n  guest: {check: Disabled, ipv6: Required}",
			[]string{"spec.guest", "ipv6: Required needs check: Enabled"}},
		{"unknown guest IPv6 mode", goodBVM, "vmName: vyatta", "vmName: vyatta\n  guest: {ipv6: Optional}",
			[]string{"spec.guest.ipv6", `Unsupported value: "Optional"`}},
		{"both addresses and addressFrom", goodRTC, "addresses: [203.0.113.123/32]",
			"addresses: [203.0.113.123/32], addressFrom: {failoverIPRef: {name: router-wan}}",
			[]string{"spec.interfaces[1]", "exactly one of addresses and addressFrom"}},
		{"interface without address", goodRTC, "addresses: [203.0.113.123/32], ", "",
			[]string{"spec.interfaces[1]", "exactly one of addresses and addressFrom"}},
		{"prefix length out of range", goodRTC, "10.0.10.254/24", "10.0.10.254/33",
			[]string{"spec.interfaces[0].addresses[0]", "IPv4 address with prefix length"}},
		{"both gateway and gatewayFrom", goodRTC, "gateway: 198.51.100.254",
			"gateway: 198.51.100.254, gatewayFrom: {failoverIPRef: {name: router-wan}}",
			[]string{"spec.wan", "exactly one of gateway and gatewayFrom"}},
		{"gateway not an IPv4", goodRTC, "gateway: 198.51.100.254", "gateway: gw.example",
			[]string{"spec.wan.gateway", "ipv4"}},
		{"WAN interface not configured", goodRTC, "wan: {interface: eth2", "wan: {interface: eth3",
			[]string{"wan.interface must be one of spec.interfaces"}},
		{"duplicate NAT rule", goodRTC, "port: 25565, translationAddress: 10.0.10.10}",
			"port: 25565, translationAddress: 10.0.10.10}\n      - {rule: 20, inboundInterface: eth2, port: 4040, translationAddress: 10.0.10.11}",
			[]string{"spec.nat", "destination NAT rule numbers must be unique"}},
		{"port out of range", goodRTC, "port: 25565", "port: 70000",
			[]string{"spec.nat.destination[0].port", "less than or equal to 65535"}},
		{"unknown NAT protocol", goodRTC, "port: 25565,", "port: 25565, protocol: icmp,",
			[]string{"spec.nat.destination[0].protocol", `Unsupported value: "icmp"`}},
		{"HTTP API on Vyatta", goodRTC, "driver: ssh,", "driver: vyos-api, platform: vyatta-6,",
			[]string{"spec.router", "Vyatta 6 has no HTTP API"}},
		{"interface route on Vyatta", goodRTC, "driver: ssh, address: 10.0.10.254, credentialsSecretRef: {name: router}}\n  wan: {interface: eth2, gateway: 198.51.100.254}",
			"driver: ssh, platform: vyatta-6, address: 10.0.10.254, credentialsSecretRef: {name: router}}\n  wan: {interface: eth2, gateway: 198.51.100.254, gatewayRouteMode: InterfaceRoute}",
			[]string{"Quagga install a default route without a gateway"}},
		{"boot script through the HTTP API", goodRTC, "driver: ssh, address: 10.0.10.254, credentialsSecretRef: {name: router}}\n  wan: {interface: eth2, gateway: 198.51.100.254}",
			"driver: vyos-api, address: 10.0.10.254, credentialsSecretRef: {name: router}}\n  wan: {interface: eth2, gateway: 198.51.100.254, gatewayRouteMode: BootScript}",
			[]string{"cannot write the boot script"}},
		{"description with a quote", goodRTC, "description: LAN}", `description: "it's LAN"}`,
			[]string{"spec.interfaces[0].description", "must not contain single quotes"}},
		{"IPv6 gateway with a prefix length", goodRTC6, `gateway: "2001:db8:1:ff:ff:ff:ff:ff"`, `gateway: "2001:db8:1:ff:ff:ff:ff:ff/56"`,
			[]string{"spec.wan.ipv6.gateway", "a gateway is one address: remove the prefix length"}},
		{"IPv6 gateway inside the WAN's own block", goodRTC6, `gateway: "2001:db8:1:ff:ff:ff:ff:ff"`, `gateway: "2001:db8:1:1::ffff"`,
			[]string{"wan.ipv6.gateway is inside the WAN interface's own IPv6 prefix", "outside the server's block"}},
		{"IPv6 gateway that is multicast", goodRTC6, `gateway: "2001:db8:1:ff:ff:ff:ff:ff"`, `gateway: "ff02::2"`,
			[]string{"spec.wan.ipv6.gateway", "must be a global or link-local unicast address"}},
		{"IPv6 gateway that is IPv4", goodRTC6, `gateway: "2001:db8:1:ff:ff:ff:ff:ff"`, `gateway: "198.51.100.254"`,
			[]string{"spec.wan.ipv6.gateway", "must be an IPv6 address"}},
		{"both IPv6 gateway and gatewayFrom", goodRTC6, `ipv6: {gateway: "2001:db8:1:ff:ff:ff:ff:ff"}`,
			`ipv6: {gateway: "fe80::1", gatewayFrom: {failoverIPRef: {name: router-wan}}}`,
			[]string{"spec.wan.ipv6", "exactly one of gateway and gatewayFrom"}},
		{"link-local IPv6 address on an interface", goodRTC6, "2001:db8:1:1::123/64", "fe80::123/64",
			[]string{"spec.interfaces[1].ipv6.addresses[0]", "must be a global unicast IPv6 address"}},
		{"IPv6 address without prefix length", goodRTC6, "2001:db8:1:1::123/64", "2001:db8:1:1::123",
			[]string{"spec.interfaces[1].ipv6.addresses[0]", "IPv6 address with prefix length"}},
		{"IPv6 address among the IPv4 ones", goodRTC6, "addresses: [203.0.113.123/32]", `addresses: ["2001:db8:1:1::123/64"]`,
			[]string{"spec.interfaces[1].addresses[0]", "IPv6 addresses go under ipv6.addresses"}},
		{"IPv6 host part that is not IPv6", goodRTC6, `host: "::1:0:0:1"`, `host: "10.0.0.1"`,
			[]string{"spec.interfaces[0].ipv6.addressFrom.host", "must be an IPv6 host part such as ::1"}},
		{"IPv6 host part that is the whole block", goodRTC6, `host: "::1:0:0:1"`, `host: "::"`,
			[]string{"spec.interfaces[0].ipv6.addressFrom.host", "must not be ::"}},
		{"empty ipv6", goodRTC6, `ipv6: {addresses: ["2001:db8:1:1::123/64"]}`, "ipv6: {}",
			[]string{"spec.interfaces[1].ipv6", "set addresses, addressFrom or both"}},
		{"translation neither masquerade nor IP", goodRTC, "sourceAddress: 10.0.10.0/24}",
			"sourceAddress: 10.0.10.0/24, translation: masq}",
			[]string{"spec.nat.source[0].translation", "must be masquerade or an IPv4 address"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// The unedited manifest must be valid, so that the refusal below
			// is caused by the edit and nothing else.
			good := strings.Replace(c.base, "NAME", fmt.Sprintf("good-%02d", i), 1)
			if out, err := apply(t, ns, good); err != nil {
				t.Fatalf("the unedited manifest must be valid: %v\n%s", err, out)
			}
			bad := strings.Replace(strings.Replace(c.base, "NAME", fmt.Sprintf("bad-%02d", i), 1), c.old, c.new, 1)
			if bad == strings.Replace(good, "good-", "bad-", 1) {
				t.Fatalf("edit %q -> %q did not change the manifest", c.old, c.new)
			}
			out, err := apply(t, ns, bad)
			if err == nil {
				t.Fatalf("apply succeeded, want refusal:\n%s", bad)
			}
			t.Logf("kubectl says: %s", strings.TrimSpace(out))
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("message lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestIPIsImmutable: moving a FailoverIP object to another address would
// silently abandon the first one at OVH; the API refuses it.
func TestIPIsImmutable(t *testing.T) {
	ns := namespace(t, "immutable")
	m := strings.Replace(goodFIP, "NAME", "wan", 1)
	if out, err := apply(t, ns, m); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := apply(t, ns, strings.Replace(m, "203.0.113.123", "203.0.113.124", 1))
	if err == nil {
		t.Fatal("changing spec.ip was accepted")
	}
	if !strings.Contains(out, "ip is immutable: create a new FailoverIP") {
		t.Errorf("message: %s", out)
	}
	// Other fields stay editable.
	if out, err := apply(t, ns, strings.Replace(m, "vmName: vyatta", "vmName: router", 1)); err != nil {
		t.Fatalf("editing another field failed: %v\n%s", err, out)
	}
}

// TestGuestIPv6Defaults: spec.guest.ipv6 defaults to IfConfigured (an
// IPv4-only guest stays Configured), and a guest not looked at may say
// Ignore or leave the default.
func TestGuestIPv6Defaults(t *testing.T) {
	ns := namespace(t, "guest6")
	for name, guest := range map[string]string{
		"plain":    "guest: {check: Enabled}",
		"disabled": "guest: {check: Disabled}",
		"ignored":  "guest: {check: Disabled, ipv6: Ignore}",
		"required": "guest: {ipv6: Required}",
	} {
		m := strings.Replace(strings.Replace(goodBVM, "NAME", name, 1), "vmName: vyatta", "vmName: vyatta\n  "+guest, 1)
		if out, err := apply(t, ns, m); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	for name, want := range map[string]string{"plain": "IfConfigured", "disabled": "IfConfigured", "ignored": "Ignore", "required": "Required"} {
		if got := kubectl(t, "get", "-n", ns, "bvm", name, "-o", "jsonpath={.spec.guest.ipv6}"); got != want {
			t.Errorf("%s: spec.guest.ipv6 = %q, want %q", name, got, want)
		}
	}
}
