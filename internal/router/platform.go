package router

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// Platform is the router family whose CLI syntax, routing daemon and tooling
// the operator must match. The names are the values of spec.router.platform.
type Platform string

const (
	// Vyatta6 is Vyatta Core 6.x (and VyOS 1.0/1.1, which kept its Quagga
	// and CLI): Quagga 0.99.20 with the gateway-less default route bug,
	// iproute2 without -j, boot script vyatta-postconfig-bootup.script.
	Vyatta6 Platform = "vyatta-6"
	// VyOS13 is VyOS 1.3 "equuleus" (FRR, HTTP API, interface-route syntax).
	VyOS13 Platform = "vyos-1.3"
	// VyOS14 is VyOS 1.4 "sagitta" (static route ... interface, NAT
	// interface "name" nodes, /configure-section).
	VyOS14 Platform = "vyos-1.4"
	// VyOS15 is VyOS 1.5 "circinus" and later rolling releases (as 1.4, plus
	// `service https api rest` and the unauthenticated GET /info).
	VyOS15 Platform = "vyos-1.5"
)

// Platforms lists every supported platform, oldest first.
var Platforms = []Platform{Vyatta6, VyOS13, VyOS14, VyOS15}

// Valid reports whether p is one of the supported platforms.
func (p Platform) Valid() bool {
	for _, q := range Platforms {
		if p == q {
			return true
		}
	}
	return false
}

// IsVyOS reports whether p is a VyOS release with FRR and the HTTP API.
func (p Platform) IsVyOS() bool { return p == VyOS13 || p == VyOS14 || p == VyOS15 }

// HasJSONIproute reports whether the platform's iproute2 understands -j
// (added in iproute2 4.17; Vyatta 6.5 ships 3.x).
func (p Platform) HasJSONIproute() bool { return p.IsVyOS() }

// HasHTTPAPI reports whether the platform offers the VyOS HTTP API.
func (p Platform) HasHTTPAPI() bool { return p.IsVyOS() }

// BootScriptPath is the post-config boot script the platform runs once the
// saved configuration is loaded; it is the only supported place for commands
// that must survive a reboot but cannot be expressed in the configuration.
func (p Platform) BootScriptPath() string {
	if p == Vyatta6 {
		return "/config/scripts/vyatta-postconfig-bootup.script"
	}
	return "/config/scripts/vyos-postconfig-bootup.script"
}

// DefaultGatewayRouteMode is what gatewayRouteMode Auto means on p: the boot
// script where Quagga's bug makes configured gateway routes unsafe (Vyatta
// 6.x), configured interface routes wherever FRR installs them correctly.
func (p Platform) DefaultGatewayRouteMode() GatewayRouteMode {
	if p == Vyatta6 {
		return BootScriptMode
	}
	return InterfaceRouteMode
}

// PlatformInfo is what probing a router found.
type PlatformInfo struct {
	Platform Platform
	// Version is the release as the router reports it, e.g. "VC6.5R1",
	// "1.3.8", "1.5-rolling-202501010000".
	Version string
}

var (
	vyattaVersionLine = regexp.MustCompile(`(?m)^Version\s*:\s*(\S+(?:\s+\S+)?)\s*$`)
	showVersionLine   = regexp.MustCompile(`(?m)^Version:\s*VyOS\s+(\S+)\s*$`)
)

// PlatformFromVersionFile classifies the contents of /opt/vyatta/etc/version
// (Vyatta, VyOS 1.0/1.1: "Version :    VC6.5R1") or
// /usr/share/vyos/version.json (VyOS 1.2+: {"version": "1.4.0", ...}).
func PlatformFromVersionFile(content string) (PlatformInfo, error) {
	trimmed := strings.TrimSpace(content)
	if strings.HasPrefix(trimmed, "{") {
		var v struct {
			Version string `json:"version"`
		}
		if err := json.Unmarshal([]byte(trimmed), &v); err != nil {
			return PlatformInfo{}, invalid("Probe", "version.json is not JSON", err)
		}
		return PlatformFromVyOSVersion(v.Version)
	}
	m := vyattaVersionLine.FindStringSubmatch(content)
	if m == nil {
		return PlatformInfo{}, invalid("Probe", fmt.Sprintf("no version line in %q", firstLine(content)), nil)
	}
	v := m[1]
	switch {
	case strings.HasPrefix(v, "VC6.") || strings.HasPrefix(v, "VSE6."):
		return PlatformInfo{Platform: Vyatta6, Version: v}, nil
	case strings.HasPrefix(v, "VyOS 1.0") || strings.HasPrefix(v, "VyOS 1.1"):
		// VyOS 1.0/1.1 are Vyatta Core 6.6 with a new name: same Quagga bug,
		// same CLI, same tools.
		return PlatformInfo{Platform: Vyatta6, Version: strings.TrimPrefix(v, "VyOS ")}, nil
	case strings.HasPrefix(v, "VyOS "):
		return PlatformFromVyOSVersion(strings.TrimPrefix(v, "VyOS "))
	}
	return PlatformInfo{}, cause.New(cause.CapabilityMissing, system, "Probe",
		fmt.Sprintf("unsupported router release %q (supported: Vyatta 6.x, VyOS 1.3 to 1.5)", v), nil)
}

// PlatformFromShowVersion classifies the text of `show version` (the VyOS
// HTTP API's /show ["version"]), whose first line is "Version:  VyOS 1.4.0".
func PlatformFromShowVersion(text string) (PlatformInfo, error) {
	m := showVersionLine.FindStringSubmatch(text)
	if m == nil {
		return PlatformInfo{}, invalid("Probe", fmt.Sprintf("no VyOS version in %q", firstLine(text)), nil)
	}
	return PlatformFromVyOSVersion(m[1])
}

// PlatformFromVyOSVersion maps a VyOS release string ("1.3.8",
// "1.4-rolling-202301010000", "1.5-stream-2025-Q1") to its platform. VyOS
// 1.2 is treated as 1.3 (same FRR-based routing and CLI for what the operator
// touches); anything newer than 1.5 as 1.5, the newest syntax known.
func PlatformFromVyOSVersion(v string) (PlatformInfo, error) {
	v = strings.TrimSpace(v)
	var major, minor int
	if _, err := fmt.Sscanf(v, "%d.%d", &major, &minor); err != nil || major < 1 {
		return PlatformInfo{}, cause.New(cause.CapabilityMissing, system, "Probe",
			fmt.Sprintf("unrecognised VyOS release %q", v), nil)
	}
	info := PlatformInfo{Version: v}
	switch {
	case major == 1 && minor <= 1:
		info.Platform = Vyatta6
	case major == 1 && minor <= 3:
		info.Platform = VyOS13
	case major == 1 && minor == 4:
		info.Platform = VyOS14
	default:
		info.Platform = VyOS15
	}
	return info, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}
