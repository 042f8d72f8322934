package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VirtualMACType is the kind of OVH virtual MAC.
// +kubebuilder:validation:Enum=vmware;ovh
type VirtualMACType string

const (
	// VirtualMACVMware is the type to use for VMs on ESXi.
	VirtualMACVMware VirtualMACType = "vmware"
	// VirtualMACOVH is OVH's generic type (KVM, Proxmox, ...).
	VirtualMACOVH VirtualMACType = "ovh"
)

// OVHConnection says how to reach the OVH API.
type OVHConnection struct {
	// credentialsSecretRef names a Secret in this namespace holding the OVH API
	// credentials: "endpoint" (ovh-eu, ovh-ca, ovh-us, soyoustart-eu,
	// kimsufi-eu, ... or a URL) and one complete set of "applicationKey" +
	// "applicationSecret" + "consumerKey", or "accessToken", or "clientID" +
	// "clientSecret" (OAuth2). Read on every reconcile, so rotating the Secret
	// needs no restart.
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`

	// syncInterval is how often the OVH API is observed again to catch drift
	// made outside Kubernetes (a jitter of up to 10% is added). Observation is
	// shared by every FailoverIP of the same server and credentials.
	// +kubebuilder:default="1m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="syncInterval must be at least 1s"
	// +optional
	SyncInterval *metav1.Duration `json:"syncInterval,omitempty"`
}

// VirtualMACSpec asks for an OVH virtual MAC bound to the failover IP, which
// the VM's bridged NIC must carry for OVH's network to accept its traffic.
type VirtualMACSpec struct {
	// type of virtual MAC: vmware (for ESXi VMs) or ovh.
	// +kubebuilder:default=vmware
	// +optional
	Type VirtualMACType `json:"type,omitempty"`

	// vmName is the virtual machine name recorded with the virtual MAC at OVH
	// (shown in the OVH manager; usually the ESXi VM name).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._-]*$`
	VMName string `json:"vmName"`
}

// AddressSpec is one address of a block and what it carries: the virtual MAC
// of the VM that answers for it, its reverse DNS, or both.
// +kubebuilder:validation:XValidation:rule="has(self.virtualMAC) || has(self.reverse)",message="an address lists what it carries: virtualMAC, reverse or both"
type AddressSpec struct {
	// ip is the address, inside the block of spec.ip, e.g. 203.0.113.121.
	// +kubebuilder:validation:MaxLength=18
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip(self).family() == 4",message="must be an IPv4 address such as 203.0.113.121, without a prefix length"
	IP string `json:"ip"`

	// virtualMAC asks for an OVH virtual MAC bound to this address. The
	// addresses (of this block and of other FailoverIPs) with the same
	// vmName and type share one virtual MAC, as OVH wants for one VM.
	// +optional
	VirtualMAC *VirtualMACSpec `json:"virtualMAC,omitempty"`

	// reverse is this address's reverse DNS name, as spec.reverse is a
	// single IP's.
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:XValidation:rule="self.matches('^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?[.])+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?[.]?$')",message="must be a fully qualified host name such as mail.example.com: dot-separated labels of letters, digits and inner dashes, at most 63 characters each, a trailing dot allowed"
	// +optional
	Reverse string `json:"reverse,omitempty"`
}

// FailoverIPSpec is the desired state of a failover ("additional") IP.
// +kubebuilder:validation:XValidation:rule="!has(self.virtualMAC) || !self.ip.contains('/') || self.ip.endsWith('/32')",message="a virtual MAC is bound to one address: for a block, give each address its virtual MAC under spec.addresses"
// +kubebuilder:validation:XValidation:rule="!has(self.reverse) || !self.ip.contains('/') || self.ip.endsWith('/32')",message="spec.reverse is the reverse DNS of one address: for a block, give each address its reverse under spec.addresses"
// +kubebuilder:validation:XValidation:rule="!has(self.addresses) || (self.ip.contains('/') && !self.ip.endsWith('/32'))",message="spec.addresses lists addresses of a block: spec.ip must be a block such as 203.0.113.120/29 (a single IP takes spec.virtualMAC and spec.reverse)"
// +kubebuilder:validation:XValidation:rule="!has(self.addresses) || !isCIDR(self.ip) || self.addresses.all(a, !isIP(a.ip) || cidr(self.ip).containsIP(a.ip))",message="every address of spec.addresses must be inside the block of spec.ip"
type FailoverIPSpec struct {
	// ip is the failover IPv4 address (203.0.113.123) or block
	// (203.0.113.120/29), exactly as OVH lists it. Immutable: to manage
	// another IP, create another FailoverIP.
	// +kubebuilder:validation:MaxLength=18
	// +kubebuilder:validation:XValidation:rule="isIP(self) ? ip(self).family() == 4 : (isCIDR(self) && cidr(self).ip().family() == 4)",message="must be an IPv4 address such as 203.0.113.123 or an IPv4 block such as 203.0.113.120/29"
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self) == cidr(self).masked()",message="a block must be written with its network address, e.g. 203.0.113.120/29"
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="ip is immutable: create a new FailoverIP to manage another address"
	IP string `json:"ip"`

	// server is the OVH service name of the dedicated server the IP must be
	// routed to, e.g. ns123456.ip-198-51-100.eu.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$')",message="must be an OVH service name such as ns123456.ip-198-51-100.eu (lower case letters, digits, dots and dashes)"
	Server string `json:"server"`

	// virtualMAC, when set, makes the operator ensure a virtual MAC of this
	// type is bound to the IP. Omit it for IPs routed to the host itself.
	// For a block, see addresses.
	// +optional
	VirtualMAC *VirtualMACSpec `json:"virtualMAC,omitempty"`

	// addresses lists, for a block (spec.ip 203.0.113.120/29), the
	// addresses that carry a virtual MAC or a reverse DNS name. OVH moves a
	// block only as a whole, so one FailoverIP manages the block's route
	// and every address's virtual MAC; BridgedVMs pick an address's MAC
	// with macFrom.address. Addresses not listed are left alone.
	// +listType=map
	// +listMapKey=ip
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Addresses []AddressSpec `json:"addresses,omitempty"`

	// reverse is the reverse DNS name (PTR) the IP must have, e.g.
	// mail.example.com; a trailing dot is optional (OVH serves the name
	// fully qualified, "mail.example.com.", and both spellings are the same
	// name). OVH sets a reverse only when the name resolves to the IP:
	// create the A record first. Omit it to leave the IP's reverse alone
	// (it is then not even read).
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:XValidation:rule="self.matches('^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?[.])+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?[.]?$')",message="must be a fully qualified host name such as mail.example.com: dot-separated labels of letters, digits and inner dashes, at most 63 characters each, a trailing dot allowed"
	// +optional
	Reverse string `json:"reverse,omitempty"`

	// ovh says how to reach the OVH API.
	OVH OVHConnection `json:"ovh"`

	Policies `json:",inline"`
}

// PendingTask is an external task the operator started and has not yet seen
// finish. It is recorded before anything else happens so that a restart never
// issues the same write twice.
type PendingTask struct {
	// id of the task at the external system; empty while the write that
	// starts it is being sent (the intent is recorded first, so a restart
	// looks for the task instead of sending the write again).
	// +optional
	ID string `json:"id,omitempty"`
	// function is what the task does, e.g. genericMoveFloatingIp, addVirtualMac.
	Function string `json:"function"`
	// scope says where the task lives: "ip" (under /ip/{ip}/task) or "server"
	// (under /dedicated/server/{server}/task).
	// +optional
	Scope string `json:"scope,omitempty"`
	// target is what the task acts on (destination server, MAC, ...).
	// +optional
	Target string `json:"target,omitempty"`
	// address is the address of a block a virtual MAC task is for (empty
	// for a single IP).
	// +optional
	Address string `json:"address,omitempty"`
	// server is the dedicated server a server task runs on when it is not
	// spec.server: unbinding an address from a virtual MAC it shares, on
	// the server the IP is moving from.
	// +optional
	Server string `json:"server,omitempty"`
	// startedAt is when the operator started the task.
	StartedAt metav1.Time `json:"startedAt"`
}

// FailedTask is an OVH task that ended in failure. The operator does not
// issue the same write again for the same generation of the spec: OVH's
// comment usually needs a person (or a spec change) first.
type FailedTask struct {
	// id of the task at OVH.
	ID string `json:"id"`
	// function of the task, e.g. genericMoveFloatingIp.
	Function string `json:"function"`
	// address is the address of a block a virtual MAC task was for.
	// +optional
	Address string `json:"address,omitempty"`
	// status OVH ended the task with: cancelled, customerError or ovhError.
	Status string `json:"status"`
	// comment is OVH's explanation.
	// +optional
	Comment string `json:"comment,omitempty"`
	// generation of the spec the task was started for.
	Generation int64 `json:"generation"`
	// finishedAt is when the operator saw the failure.
	FinishedAt metav1.Time `json:"finishedAt"`
}

// ReverseRefusal is OVH's refusal to set spec.reverse. The operator sends
// the same name again only after a back-off that grows with the refusals
// (5 minutes, doubling, at most an hour) or at once when the spec changes:
// OVH's check needs the name's A record, which is made outside Kubernetes.
type ReverseRefusal struct {
	// reverse is the name OVH refused.
	Reverse string `json:"reverse"`
	// message is OVH's explanation, e.g. "Cannot check if mail.example.com.
	// resolves to 203.0.113.123".
	// +optional
	Message string `json:"message,omitempty"`
	// attempts counts the refusals of this name for this generation.
	Attempts int32 `json:"attempts"`
	// lastAttempt is when OVH last refused it.
	LastAttempt metav1.Time `json:"lastAttempt"`
	// generation of the spec the refused attempts were made for.
	Generation int64 `json:"generation"`
}

// FailoverIPStatus is what the operator observed at OVH.
type FailoverIPStatus struct {
	ResourceStatus `json:",inline"`

	// routedTo is the server the IP is routed to right now, as OVH reports it
	// (empty when parked).
	// +optional
	RoutedTo string `json:"routedTo,omitempty"`

	// macAddress is the virtual MAC bound to the IP; BridgedVMs take their
	// NIC's MAC from here.
	// +optional
	MACAddress string `json:"macAddress,omitempty"`

	// virtualMACType is the type of that virtual MAC as OVH reports it.
	// +optional
	VirtualMACType VirtualMACType `json:"virtualMACType,omitempty"`

	// gateway is the IPv4 gateway of the server the IP is routed to (the main
	// IP's /24 .254 on older ranges; taken from the OVH API). RouterConfigs use
	// it for their WAN gateway route.
	// +optional
	Gateway string `json:"gateway,omitempty"`

	// serverMainIP is the main IPv4 address of the server.
	// +optional
	ServerMainIP string `json:"serverMainIP,omitempty"`

	// ipv6 is the IPv6 block and gateway of the same server, as the OVH API
	// states them (specifications/network, routing.ipv6), read with the
	// observation every FailoverIP of that server shares. RouterConfigs
	// take their WAN IPv6 address (a host part in the block) and IPv6
	// gateway from here, as they take the IPv4 gateway from status.gateway.
	// +optional
	IPv6 *ServerIPv6 `json:"ipv6,omitempty"`

	// movedAt is when the operator last saw its move of the IP complete.
	// For a while after it (5 minutes), a virtual MAC that followed the IP
	// and is not on the new server yet is waited for, not created again:
	// OVH suspends the MACs of a block during its move.
	// +optional
	MovedAt *metav1.Time `json:"movedAt,omitempty"`

	// pendingTask is the OVH task in flight, if any.
	// +optional
	PendingTask *PendingTask `json:"pendingTask,omitempty"`

	// lastFailedTask is the last OVH task that failed, kept until the spec
	// changes or the drift it was meant to fix is gone.
	// +optional
	LastFailedTask *FailedTask `json:"lastFailedTask,omitempty"`

	// reverse is the IP's reverse DNS name as OVH serves it (fully
	// qualified), read while spec.reverse is set; empty when it has none.
	// +optional
	Reverse string `json:"reverse,omitempty"`

	// reverseRefused is OVH's last refusal to set spec.reverse, kept while
	// that name is still wanted and still not set.
	// +optional
	ReverseRefused *ReverseRefusal `json:"reverseRefused,omitempty"`

	// addresses reports, for each address of spec.addresses, the virtual
	// MAC bound to it (BridgedVMs take it with macFrom.address) and its
	// reverse DNS.
	// +listType=map
	// +listMapKey=ip
	// +optional
	Addresses []AddressStatus `json:"addresses,omitempty"`
}

// ServerIPv6 is a dedicated server's IPv6 block and gateway.
type ServerIPv6 struct {
	// block is the server's IPv6 block, e.g. 2001:db8:1:1::/64 (a /64 on
	// most ranges, a /56 on some).
	// +optional
	Block string `json:"block,omitempty"`
	// gateway is the block's gateway, outside the block: the enclosing
	// /56's last addresses on OVH's older ranges (2001:db8:1:ff:ff:ff:ff:ff
	// for 2001:db8:1:1::/64), fe80::1 on some newer ones. Like the IPv4
	// gateway it is off-link for addresses of the block, hence an on-link
	// route to it before the default route.
	// +optional
	Gateway string `json:"gateway,omitempty"`
}

// AddressStatus is what OVH shows of one address of a block.
type AddressStatus struct {
	// ip is the address.
	IP string `json:"ip"`
	// macAddress is the virtual MAC bound to the address.
	// +optional
	MACAddress string `json:"macAddress,omitempty"`
	// virtualMACType is that virtual MAC's type as OVH reports it.
	// +optional
	VirtualMACType VirtualMACType `json:"virtualMACType,omitempty"`
	// reverse is the address's reverse DNS name as OVH serves it, read
	// while its spec entry asks for one.
	// +optional
	Reverse string `json:"reverse,omitempty"`
	// reverseRefused is OVH's last refusal of the address's reverse.
	// +optional
	ReverseRefused *ReverseRefusal `json:"reverseRefused,omitempty"`
}

// FailoverIP is an OVH failover ("additional") IP routed to a dedicated server,
// optionally with a virtual MAC for a bridged VM.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=fip,categories=ovhbridge
// +kubebuilder:printcolumn:name="IP",type=string,JSONPath=`.spec.ip`
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.server`
// +kubebuilder:printcolumn:name="Routed-To",type=string,JSONPath=`.status.routedTo`
// +kubebuilder:printcolumn:name="vMAC",type=string,JSONPath=`.status.macAddress`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.managementPolicy`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type FailoverIP struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state: which server the IP is routed to and which
	// virtual MAC it carries.
	Spec FailoverIPSpec `json:"spec"`

	// status is what the operator last observed at OVH.
	// +optional
	Status FailoverIPStatus `json:"status,omitempty"`
}

// FailoverIPList is a list of FailoverIPs.
//
// +kubebuilder:object:root=true
type FailoverIPList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []FailoverIP `json:"items"`
}

func init() {
	register(&FailoverIP{}, &FailoverIPList{})
}
