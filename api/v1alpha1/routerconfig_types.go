package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RouterDriver is how the operator talks to the router.
// +kubebuilder:validation:Enum=ssh;vyos-api
type RouterDriver string

const (
	// DriverSSH runs configuration scripts over SSH (every platform).
	DriverSSH RouterDriver = "ssh"
	// DriverVyOSAPI uses the VyOS HTTPS API (VyOS 1.3 and later).
	DriverVyOSAPI RouterDriver = "vyos-api"
)

// RouterPlatform is the router's OS family and release.
// +kubebuilder:validation:Enum=auto;vyatta-6;vyos-1.3;vyos-1.4;vyos-1.5
type RouterPlatform string

const (
	PlatformAuto    RouterPlatform = "auto"
	PlatformVyatta6 RouterPlatform = "vyatta-6"
	PlatformVyOS13  RouterPlatform = "vyos-1.3"
	PlatformVyOS14  RouterPlatform = "vyos-1.4"
	PlatformVyOS15  RouterPlatform = "vyos-1.5"
)

// GatewayRouteMode is how the route to the OVH gateway is installed.
// +kubebuilder:validation:Enum=Auto;InterfaceRoute;BootScript
type GatewayRouteMode string

const (
	// GatewayRouteAuto picks BootScript on Vyatta 6 and InterfaceRoute on VyOS.
	GatewayRouteAuto GatewayRouteMode = "Auto"
	// GatewayRouteInterfaceRoute uses static routes in the router config.
	// Safe on VyOS (FRR installs the default with a gateway, onlink).
	GatewayRouteInterfaceRoute GatewayRouteMode = "InterfaceRoute"
	// GatewayRouteBootScript installs the routes with `ip route replace` from
	// the post-config boot script. The only safe way on Vyatta 6, where an
	// interface route makes Quagga install a default route without a gateway
	// and the router ARPs for every destination (the OVH ARP-flood incident).
	GatewayRouteBootScript GatewayRouteMode = "BootScript"
)

// RouterConnection says how to reach the router.
// +kubebuilder:validation:XValidation:rule="!(self.driver == 'vyos-api' && self.platform == 'vyatta-6')",message="Vyatta 6 has no HTTP API: use driver ssh"
type RouterConnection struct {
	// driver is ssh (every platform) or vyos-api (the VyOS HTTPS API, 1.3+).
	// +kubebuilder:default=ssh
	// +optional
	Driver RouterDriver `json:"driver,omitempty"`

	// address is the router's management address: a host name or IP, with an
	// optional port (default 22 for ssh, 443 for vyos-api).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=261
	Address string `json:"address"`

	// credentialsSecretRef names a Secret in this namespace. For ssh:
	// "username" and "password" or "privateKey", and "hostKey" (the router's
	// public SSH host key, pinned; "insecureSkipHostKeyVerification": "true"
	// only when explicitly wanted). For vyos-api: "apiKey" and "ca.crt" (or
	// "insecureSkipTLSVerify": "true").
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`

	// platform is the router OS, or auto to detect it on first contact.
	// +kubebuilder:default=auto
	// +optional
	Platform RouterPlatform `json:"platform,omitempty"`
}

// RouterInterface is an ethernet interface of the router.
// +kubebuilder:validation:XValidation:rule="has(self.addresses) != has(self.addressFrom)",message="set exactly one of addresses and addressFrom"
type RouterInterface struct {
	// name of the ethernet interface, e.g. eth1.
	// +kubebuilder:validation:MaxLength=8
	// +kubebuilder:validation:XValidation:rule="self.matches('^eth[0-9]{1,3}$')",message="must be an ethernet interface name such as eth1"
	Name string `json:"name"`

	// addresses are the interface's IPv4 addresses with prefix length,
	// e.g. 10.0.10.254/24.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 4",message="must be an IPv4 address with prefix length, e.g. 10.0.10.254/24 (IPv6 addresses go under ipv6.addresses)"
	// +listType=set
	// +optional
	Addresses []string `json:"addresses,omitempty"`

	// addressFrom takes the address from a FailoverIP: its IP as a /32, the
	// way OVH bridged VMs must carry a failover IP.
	// +optional
	AddressFrom *FailoverIPReference `json:"addressFrom,omitempty"`

	// ipv6 makes the interface dual stack: its IPv6 addresses, written
	// out or taken from the server's IPv6 block.
	// +optional
	IPv6 *InterfaceIPv6 `json:"ipv6,omitempty"`

	// description of the interface, e.g. LAN or WAN.
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="!self.contains(\"'\") && !self.contains('\\n')",message="must not contain single quotes or newlines"
	// +optional
	Description string `json:"description,omitempty"`
}

// InterfaceIPv6 is the IPv6 side of an interface.
// +kubebuilder:validation:XValidation:rule="has(self.addresses) || has(self.addressFrom)",message="set addresses, addressFrom or both"
type InterfaceIPv6 struct {
	// addresses are global IPv6 addresses with prefix length, e.g.
	// 2001:db8:1:1::1/64. Link-local addresses are the kernel's own
	// (fe80::/10, from the MAC) and are not configured.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 6",message="must be an IPv6 address with prefix length, e.g. 2001:db8:1:1::1/64"
	// +kubebuilder:validation:items:XValidation:rule="!isCIDR(self) || cidr(self).ip().family() != 6 || cidr(self).ip().isGlobalUnicast()",message="must be a global unicast IPv6 address (not link-local, loopback, multicast or unspecified), e.g. 2001:db8:1:1::1/64"
	// +listType=set
	// +optional
	Addresses []string `json:"addresses,omitempty"`

	// addressFrom takes an address from the server's IPv6 block, as the
	// FailoverIP named reports it (status.ipv6.block, read from the OVH
	// API): the block's prefix with the host part given here.
	// +optional
	AddressFrom *IPv6AddressSource `json:"addressFrom,omitempty"`

	// routerAdvert sends router advertisements on this interface for the
	// prefixes of its IPv6 addresses: the machines behind the router learn
	// the prefix (and, for a /64, configure an address from it) and take
	// the router as their IPv6 default gateway. VyOS: service
	// router-advert; Vyatta 6.5: interfaces ethernet ethN ipv6
	// router-advert.
	// +optional
	RouterAdvert bool `json:"routerAdvert,omitempty"`
}

// IPv6AddressSource is an address of the server's IPv6 block.
type IPv6AddressSource struct {
	// failoverIPRef names the FailoverIP (same namespace) whose
	// status.ipv6.block is the server's block.
	FailoverIPRef LocalObjectReference `json:"failoverIPRef"`

	// host is the address's host part, written as an IPv6 address whose
	// bits inside the block's prefix are zero: "::1" in the block
	// 2001:db8:1:1::/64 gives 2001:db8:1:1::1.
	// +kubebuilder:validation:MaxLength=39
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip(self).family() == 6",message="must be an IPv6 host part such as ::1"
	// +kubebuilder:validation:XValidation:rule="!isIP(self) || !ip(self).isUnspecified()",message="must not be :: (the block's subnet-router anycast address): choose a host part such as ::1"
	Host string `json:"host"`

	// prefixLength of the address on the interface; the block's own
	// (64 on most ranges) when unset. 128 on the WAN makes it like the
	// IPv4 /32: no on-link peers but the gateway.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=128
	// +optional
	PrefixLength *int32 `json:"prefixLength,omitempty"`
}

// WANSpec is the router's uplink to OVH.
// +kubebuilder:validation:XValidation:rule="has(self.gateway) != has(self.gatewayFrom)",message="set exactly one of gateway and gatewayFrom"
type WANSpec struct {
	// interface is the WAN interface, e.g. eth2. It must be listed in
	// spec.interfaces.
	// +kubebuilder:validation:MaxLength=8
	Interface string `json:"interface"`

	// gateway is the OVH gateway of the dedicated server, e.g.
	// 198.51.100.254. It is not in the WAN /32, so it is reached through an
	// on-link route on the WAN interface.
	// +kubebuilder:validation:Format=ipv4
	// +kubebuilder:validation:MaxLength=15
	// +optional
	Gateway string `json:"gateway,omitempty"`

	// gatewayFrom takes the gateway from a FailoverIP's status.gateway (which
	// the operator reads from the OVH API).
	// +optional
	GatewayFrom *FailoverIPReference `json:"gatewayFrom,omitempty"`

	// ipv6 is the IPv6 uplink: the server's IPv6 gateway, off-link like
	// the IPv4 one. Unset, IPv6 routes are not owned.
	// +optional
	IPv6 *WANIPv6 `json:"ipv6,omitempty"`

	// gatewayRouteMode is how the gateway and default routes are installed:
	// Auto (BootScript on Vyatta 6, InterfaceRoute on VyOS), InterfaceRoute
	// or BootScript.
	// +kubebuilder:default=Auto
	// +optional
	GatewayRouteMode GatewayRouteMode `json:"gatewayRouteMode,omitempty"`
}

// WANIPv6 is the IPv6 side of the uplink to OVH.
// +kubebuilder:validation:XValidation:rule="has(self.gateway) != has(self.gatewayFrom)",message="set exactly one of gateway and gatewayFrom"
type WANIPv6 struct {
	// gateway is the server's IPv6 gateway, one address without a prefix
	// length: on OVH's older ranges the last addresses of the /56
	// enclosing the server's /64 (2001:db8:1:ff:ff:ff:ff:ff for
	// 2001:db8:1:1::/64), outside the block, so reached through an
	// on-link route on the WAN interface; fe80::1 (link-local, on-link by
	// definition, through the WAN interface) on some newer ones.
	// +kubebuilder:validation:MaxLength=39
	// +kubebuilder:validation:XValidation:rule="!self.contains('/')",message="a gateway is one address: remove the prefix length"
	// +kubebuilder:validation:XValidation:rule="self.contains('/') || (isIP(self) && ip(self).family() == 6)",message="must be an IPv6 address such as 2001:db8:1:ff:ff:ff:ff:ff or fe80::1"
	// +kubebuilder:validation:XValidation:rule="!isIP(self) || ip(self).family() != 6 || ip(self).isGlobalUnicast() || ip(self).isLinkLocalUnicast()",message="must be a global or link-local unicast address (not loopback, multicast or unspecified)"
	// +optional
	Gateway string `json:"gateway,omitempty"`

	// gatewayFrom takes the gateway from a FailoverIP's
	// status.ipv6.gateway (which the operator reads from the OVH API).
	// +optional
	GatewayFrom *FailoverIPReference `json:"gatewayFrom,omitempty"`

	// ndpProxy lists addresses of machines behind the router, taken from
	// the server's IPv6 block, that the router answers neighbour
	// solicitations for on the WAN. OVH's block is on-link on the WAN: its
	// gateway resolves each address of the block with a neighbour
	// solicitation on the server's link and delivers to whatever MAC
	// answers, so an address behind the router is reachable only when the
	// router answers for it (NDP proxy) and forwards. VyOS 1.4 and later
	// (protocols static neighbor-proxy nd); Vyatta 6.5 and VyOS 1.3 have no
	// configuration for it and are refused.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=39
	// +kubebuilder:validation:items:XValidation:rule="isIP(self) && ip(self).family() == 6 && ip(self).isGlobalUnicast()",message="must be a global unicast IPv6 address without prefix length, e.g. 2001:db8:1:1::10"
	// +listType=set
	// +optional
	NDPProxy []string `json:"ndpProxy,omitempty"`
}

// SourceNATRule translates LAN source addresses leaving an interface.
type SourceNATRule struct {
	// rule number, unique among source rules.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=9999
	Rule int32 `json:"rule"`

	// description of the rule.
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="!self.contains(\"'\") && !self.contains('\\n')",message="must not contain single quotes or newlines"
	// +optional
	Description string `json:"description,omitempty"`

	// outboundInterface is the interface the traffic leaves through (the WAN).
	// +kubebuilder:validation:MaxLength=8
	// +kubebuilder:validation:XValidation:rule="self.matches('^eth[0-9]{1,3}$')",message="must be an ethernet interface name such as eth2"
	OutboundInterface string `json:"outboundInterface"`

	// sourceAddress is the source network to translate, e.g. 10.0.10.0/24.
	// +kubebuilder:validation:MaxLength=18
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) && cidr(self).ip().family() == 4",message="must be an IPv4 network such as 10.0.10.0/24"
	SourceAddress string `json:"sourceAddress"`

	// translation is "masquerade" (use the outbound interface's address) or
	// an IPv4 address.
	// +kubebuilder:default=masquerade
	// +kubebuilder:validation:MaxLength=15
	// +kubebuilder:validation:XValidation:rule="self == 'masquerade' || (isIP(self) && ip(self).family() == 4)",message="must be masquerade or an IPv4 address"
	// +optional
	Translation string `json:"translation,omitempty"`
}

// NATProtocol is the protocol a destination NAT rule matches.
// +kubebuilder:validation:Enum=tcp;udp;tcp_udp
type NATProtocol string

// DestinationNATRule forwards a port on the WAN to a LAN host (PAT).
type DestinationNATRule struct {
	// rule number, unique among destination rules.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=9999
	Rule int32 `json:"rule"`

	// description of the rule.
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:XValidation:rule="!self.contains(\"'\") && !self.contains('\\n')",message="must not contain single quotes or newlines"
	// +optional
	Description string `json:"description,omitempty"`

	// inboundInterface is the interface the traffic arrives on (the WAN).
	// +kubebuilder:validation:MaxLength=8
	// +kubebuilder:validation:XValidation:rule="self.matches('^eth[0-9]{1,3}$')",message="must be an ethernet interface name such as eth2"
	InboundInterface string `json:"inboundInterface"`

	// protocol to match: tcp, udp or tcp_udp.
	// +kubebuilder:default=tcp
	// +optional
	Protocol NATProtocol `json:"protocol,omitempty"`

	// port is the destination port to match on the WAN address.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port"`

	// translationAddress is the LAN host to forward to, e.g. 10.0.10.10.
	// +kubebuilder:validation:Format=ipv4
	// +kubebuilder:validation:MaxLength=15
	TranslationAddress string `json:"translationAddress"`

	// translationPort is the port on the LAN host; defaults to port.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +optional
	TranslationPort *int32 `json:"translationPort,omitempty"`
}

// NATSpec holds the NAT rules the operator owns. Rules with other numbers
// are left alone.
// +kubebuilder:validation:XValidation:rule="!has(self.source) || self.source.all(r, self.source.exists_one(s, s.rule == r.rule))",message="source NAT rule numbers must be unique"
// +kubebuilder:validation:XValidation:rule="!has(self.destination) || self.destination.all(r, self.destination.exists_one(s, s.rule == r.rule))",message="destination NAT rule numbers must be unique"
type NATSpec struct {
	// source rules (masquerade of the LAN behind the WAN address).
	// +kubebuilder:validation:MaxItems=100
	// +listType=atomic
	// +optional
	Source []SourceNATRule `json:"source,omitempty"`

	// destination rules (port forwards from the WAN to LAN hosts).
	// +kubebuilder:validation:MaxItems=200
	// +listType=atomic
	// +optional
	Destination []DestinationNATRule `json:"destination,omitempty"`
}

// HealthSpec tunes the periodic health checks of routes and ARP table.
type HealthSpec struct {
	// interval between health checks (routes, WAN neighbours, boot script,
	// saved config), run even when the config is unchanged.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="interval must be at least 1s"
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// arpFloodThreshold is how many off-link WAN neighbour entries sharing one
	// MAC count as an ARP flood. A /32 WAN address has no on-link peers but
	// the gateway, so a healthy router has almost none.
	// +kubebuilder:default=16
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	// +optional
	ARPFloodThreshold int32 `json:"arpFloodThreshold,omitempty"`
}

// RouterConfigSpec is the router configuration the operator owns.
// +kubebuilder:validation:XValidation:rule="self.interfaces.exists(i, i.name == self.wan.interface)",message="wan.interface must be one of spec.interfaces"
// +kubebuilder:validation:XValidation:rule="!(self.router.driver == 'vyos-api' && self.wan.gatewayRouteMode == 'BootScript')",message="the VyOS HTTP API cannot write the boot script: use driver ssh or gatewayRouteMode InterfaceRoute"
// +kubebuilder:validation:XValidation:rule="!has(self.wan.ipv6) || !has(self.wan.ipv6.gateway) || !isIP(self.wan.ipv6.gateway) || self.interfaces.all(i, i.name != self.wan.interface || !has(i.ipv6) || !has(i.ipv6.addresses) || i.ipv6.addresses.all(a, !isCIDR(a) || !cidr(a).containsIP(self.wan.ipv6.gateway)))",message="wan.ipv6.gateway is inside the WAN interface's own IPv6 prefix: OVH's IPv6 gateway is outside the server's block (on older ranges the last addresses of the enclosing /56, e.g. 2001:db8:1:ff:ff:ff:ff:ff for 2001:db8:1:1::/64): copy it from the OVH manager or use gatewayFrom"
// +kubebuilder:validation:XValidation:rule="!(self.router.platform == 'vyatta-6' && self.wan.gatewayRouteMode == 'InterfaceRoute')",message="on Vyatta 6 an interface route to the gateway makes Quagga install a default route without a gateway (ARP flood at OVH): use gatewayRouteMode BootScript or Auto"
type RouterConfigSpec struct {
	// router says how to reach the router.
	Router RouterConnection `json:"router"`

	// interfaces the operator configures (address and description). Other
	// interfaces and other settings of these interfaces are left alone.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	Interfaces []RouterInterface `json:"interfaces"`

	// wan is the uplink to OVH: which interface and which gateway.
	WAN WANSpec `json:"wan"`

	// nat rules the operator owns.
	// +optional
	NAT NATSpec `json:"nat,omitempty"`

	// health tunes the periodic route and ARP checks.
	// +optional
	Health HealthSpec `json:"health,omitempty"`

	Policies `json:",inline"`
}

// ObservedRoute is a kernel route as the router reports it.
type ObservedRoute struct {
	// destination, "default" or a prefix.
	Destination string `json:"destination"`
	// gateway (next hop); empty for on-link routes. A default route without a
	// gateway is the Quagga bug.
	// +optional
	Gateway string `json:"gateway,omitempty"`
	// device the route leaves through.
	// +optional
	Device string `json:"device,omitempty"`
	// protocol that installed the route (zebra, static, boot, ...).
	// +optional
	Protocol string `json:"protocol,omitempty"`
	// scope of the route (link for the gateway route).
	// +optional
	Scope string `json:"scope,omitempty"`
	// flags such as onlink.
	// +listType=atomic
	// +optional
	Flags []string `json:"flags,omitempty"`
}

// NeighbourSummary describes the WAN interface's neighbour (ARP) table.
type NeighbourSummary struct {
	// interface the summary is about.
	Interface string `json:"interface"`
	// entries is the number of neighbour entries on the interface.
	Entries int32 `json:"entries"`
	// offLinkEntries counts entries for addresses other than the gateway: a
	// /32 WAN has no on-link peers, so these are the ARP flood.
	OffLinkEntries int32 `json:"offLinkEntries"`
	// gatewayState is the gateway's entry state (REACHABLE, STALE, FAILED,
	// ...), or Missing.
	// +optional
	GatewayState string `json:"gatewayState,omitempty"`
	// gatewayMAC is the gateway's MAC address.
	// +optional
	GatewayMAC string `json:"gatewayMAC,omitempty"`
	// dominantMAC is the MAC shared by most entries.
	// +optional
	DominantMAC string `json:"dominantMAC,omitempty"`
	// dominantMACEntries is how many entries carry dominantMAC.
	// +optional
	DominantMACEntries int32 `json:"dominantMACEntries,omitempty"`
}

// BootScriptState is the state of the post-config boot script.
// +kubebuilder:validation:Enum=NotRequired;Present;Missing;NotExecutable;Outdated
type BootScriptState string

// BootScriptStatus reports the post-config boot script.
type BootScriptStatus struct {
	// path of the script on the router.
	// +optional
	Path string `json:"path,omitempty"`
	// state is NotRequired, Present, Missing, NotExecutable or Outdated.
	State BootScriptState `json:"state"`
}

// RouterIPv6Status is the IPv6 side of the router as observed.
type RouterIPv6Status struct {
	// wanAddresses are the WAN's IPv6 addresses in effect (from the spec
	// or the server's block).
	// +listType=atomic
	// +optional
	WANAddresses []string `json:"wanAddresses,omitempty"`
	// gateway in effect (from the spec or a FailoverIP).
	// +optional
	Gateway string `json:"gateway,omitempty"`
	// defaultRoute is the kernel's IPv6 default route as observed.
	// +optional
	DefaultRoute *ObservedRoute `json:"defaultRoute,omitempty"`
	// gatewayRoute is the kernel's on-link route to the IPv6 gateway as
	// observed (none is needed for a link-local gateway).
	// +optional
	GatewayRoute *ObservedRoute `json:"gatewayRoute,omitempty"`
	// wanNeighbours summarises the WAN's IPv6 neighbour (NDP) table:
	// offLinkEntries counts addresses neither the gateway, link-local nor
	// in the WAN's own prefixes (the NDP flood).
	// +optional
	WANNeighbours *NeighbourSummary `json:"wanNeighbours,omitempty"`
	// ndpProxies are the WAN's NDP proxy entries as observed, while
	// spec.wan.ipv6.ndpProxy lists addresses (read over SSH only: the
	// VyOS HTTP API has no command listing them).
	// +listType=atomic
	// +optional
	NDPProxies []string `json:"ndpProxies,omitempty"`
}

// RouterConfigStatus is what the operator observed on the router.
type RouterConfigStatus struct {
	ResourceStatus `json:",inline"`

	// platform detected (or given in the spec).
	// +optional
	Platform RouterPlatform `json:"platform,omitempty"`
	// version string the router reports, e.g. "VC6.5R1" or "1.4.0".
	// +optional
	Version string `json:"version,omitempty"`
	// gatewayRouteMode in effect once Auto is resolved.
	// +optional
	GatewayRouteMode GatewayRouteMode `json:"gatewayRouteMode,omitempty"`
	// wanAddress is the WAN address in effect (from the spec or a FailoverIP).
	// +optional
	WANAddress string `json:"wanAddress,omitempty"`
	// gateway in effect (from the spec or a FailoverIP).
	// +optional
	Gateway string `json:"gateway,omitempty"`
	// defaultRoute is the kernel's default route as observed.
	// +optional
	DefaultRoute *ObservedRoute `json:"defaultRoute,omitempty"`
	// gatewayRoute is the kernel's route to the gateway as observed.
	// +optional
	GatewayRoute *ObservedRoute `json:"gatewayRoute,omitempty"`
	// wanNeighbours summarises the WAN neighbour table.
	// +optional
	WANNeighbours *NeighbourSummary `json:"wanNeighbours,omitempty"`
	// bootScript reports the post-config boot script.
	// +optional
	BootScript *BootScriptStatus `json:"bootScript,omitempty"`
	// ipv6 is the IPv6 side, while spec.wan.ipv6 is set.
	// +optional
	IPv6 *RouterIPv6Status `json:"ipv6,omitempty"`
	// appliedConfigHash is a hash of the owned config last committed.
	// +optional
	AppliedConfigHash string `json:"appliedConfigHash,omitempty"`
	// savedConfigHash is a hash of the owned config last saved.
	// +optional
	SavedConfigHash string `json:"savedConfigHash,omitempty"`
}

// RouterConfig is the owned part of a Vyatta/VyOS router's configuration:
// interface addresses (IPv4 and IPv6), the routes to the OVH gateways, NAT,
// and for the machines behind the router IPv6 router advertisements and
// NDP proxy. IPv6 drift shares IPv4's conditions: GatewayRoutePresent for
// both families' gateway routes, ARPTableHealthy for both neighbour tables
// (and the NDP proxy entries); the reasons say which family.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=rtc,categories=ovhbridge
// +kubebuilder:printcolumn:name="Address",type=string,JSONPath=`.spec.router.address`
// +kubebuilder:printcolumn:name="Platform",type=string,JSONPath=`.status.platform`
// +kubebuilder:printcolumn:name="Gateway",type=string,JSONPath=`.status.gateway`,priority=1
// +kubebuilder:printcolumn:name="Gateway6",type=string,JSONPath=`.status.ipv6.gateway`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.managementPolicy`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type RouterConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the router configuration the operator owns.
	Spec RouterConfigSpec `json:"spec"`

	// status is what the operator last observed on the router.
	// +optional
	Status RouterConfigStatus `json:"status,omitempty"`
}

// RouterConfigList is a list of RouterConfigs.
//
// +kubebuilder:object:root=true
type RouterConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RouterConfig `json:"items"`
}

func init() {
	register(&RouterConfig{}, &RouterConfigList{})
}
