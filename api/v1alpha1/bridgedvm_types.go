package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PowerState is a VM's power state.
// +kubebuilder:validation:Enum=PoweredOn;PoweredOff
type PowerState string

const (
	PoweredOn  PowerState = "PoweredOn"
	PoweredOff PowerState = "PoweredOff"
	// Suspended is only ever observed, never asked for.
	Suspended PowerState = "Suspended"
)

// ESXiConnection says how to reach the ESXi host (or vCenter).
type ESXiConnection struct {
	// credentialsSecretRef names a Secret in this namespace with "url"
	// (https://esxi.example/sdk), "username", "password" and how to trust the
	// host's certificate: "thumbprint" (SHA-256, as the ESXi console shows it)
	// or "ca.crt"; "insecureSkipTLSVerify": "true" only when explicitly wanted.
	// Optional "datacenter" for vCenter.
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`

	// resyncInterval is a safety net: changes made in ESXi arrive as events
	// within about a second; a full re-read also happens this often.
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="resyncInterval must be at least 1s"
	// +optional
	ResyncInterval *metav1.Duration `json:"resyncInterval,omitempty"`
}

// NICSpec is one virtual NIC of the VM. Select it by label or by index.
// +kubebuilder:validation:XValidation:rule="has(self.label) != has(self.index)",message="set exactly one of label (e.g. \"Network adapter 2\") or index (0 for the first NIC)"
// +kubebuilder:validation:XValidation:rule="!(has(self.mac) && has(self.macFrom))",message="set at most one of mac and macFrom"
type NICSpec struct {
	// label is the device label ESXi shows, e.g. "Network adapter 2".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=80
	// +optional
	Label string `json:"label,omitempty"`

	// index is the NIC's position among the VM's NICs, 0 for the first.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=9
	// +optional
	Index *int32 `json:"index,omitempty"`

	// portGroup is the ESXi port group the NIC must be connected to
	// (e.g. LAN or WAN). It must exist: the operator never moves a NIC to a
	// port group that does not.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=80
	PortGroup string `json:"portGroup"`

	// mac is the MAC address the NIC must carry, e.g. 00:50:56:00:00:01.
	// Omit both mac and macFrom to leave the NIC's MAC alone.
	// +kubebuilder:validation:MaxLength=17
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$')",message="must be a MAC address written as six colon-separated hex pairs, e.g. 00:50:56:00:00:01"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[0-9a-fA-F][13579bBdDfF]:.*')",message="must be a unicast MAC (the first byte must be even)"
	// +optional
	MAC string `json:"mac,omitempty"`

	// macFrom takes the MAC from a FailoverIP's status.macAddress (the OVH
	// virtual MAC bound to that IP) or, for a block, from its
	// status.addresses (the virtual MAC of the address macFrom.address
	// names).
	// +optional
	MACFrom *MACSource `json:"macFrom,omitempty"`
}

// MACSource names the FailoverIP (and, for a block, the address) whose
// virtual MAC a NIC carries.
type MACSource struct {
	// failoverIPRef names the FailoverIP (same namespace) to take the MAC
	// from.
	FailoverIPRef LocalObjectReference `json:"failoverIPRef"`

	// address picks an address of a block FailoverIP, one of its
	// spec.addresses (e.g. 203.0.113.121). Required when the FailoverIP is
	// a block; omit it for a single IP.
	// +kubebuilder:validation:MaxLength=18
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip(self).family() == 4",message="must be an IPv4 address such as 203.0.113.121, an address of the FailoverIP's block"
	// +optional
	Address string `json:"address,omitempty"`
}

// GuestCheck says whether the guest's own network is checked.
// +kubebuilder:validation:Enum=Enabled;Disabled
type GuestCheck string

const (
	GuestCheckEnabled  GuestCheck = "Enabled"
	GuestCheckDisabled GuestCheck = "Disabled"
)

// GuestIPv6 says how the guest's IPv6 on the WAN is checked.
// +kubebuilder:validation:Enum=Required;IfConfigured;Ignore
type GuestIPv6 string

const (
	// GuestIPv6Required: a guest without an address of the server's IPv6
	// block on a virtual MAC's interface is a finding (GuestAddress6Missing).
	GuestIPv6Required GuestIPv6 = "Required"
	// GuestIPv6IfConfigured: a guest holding an address of the block is
	// checked like IPv4 (the routes to the IPv6 gateway); one without is
	// IPv4-only by choice, said in the condition's message, not a finding.
	GuestIPv6IfConfigured GuestIPv6 = "IfConfigured"
	// GuestIPv6Ignore: the guest's IPv6 is not looked at.
	GuestIPv6Ignore GuestIPv6 = "Ignore"
)

// GuestSpec is what the operator looks at inside the VM. It only looks:
// it never logs into a guest.
// +kubebuilder:validation:XValidation:rule="!(has(self.check) && self.check == 'Disabled' && has(self.ipv6) && self.ipv6 == 'Required')",message="ipv6: Required needs check: Enabled: a guest that is not looked at cannot be required to hold IPv6 (set ipv6 to Ignore, or check to Enabled)"
type GuestSpec struct {
	// check Enabled (the default) compares what VMware Tools report from
	// inside the VM with what each NIC taking its MAC from a FailoverIP
	// needs: the FailoverIP's address as a /32 on that interface, an
	// on-link route to the server's gateway there, and the default route
	// via the gateway (condition GuestNetworkConfigured). Disabled for
	// guests without Tools, or with a reason to differ.
	// +kubebuilder:default=Enabled
	// +optional
	Check GuestCheck `json:"check,omitempty"`

	// ipv6 says how the guest's IPv6 is checked when the server has an
	// IPv6 block (the FailoverIP's status.ipv6): an address of the block
	// on the interface carrying a virtual MAC (OVH routes a VM's IPv6 only
	// to a virtual MAC), an on-link route to the block's gateway (outside
	// the block, as in IPv4) and the default route via it. IfConfigured
	// (the default) checks a guest that holds an address of the block and
	// leaves an IPv4-only guest alone: every OVH server has a block, and a
	// guest that never asked for IPv6 must not turn not Ready when the
	// operator learns of it. Required makes a missing address a finding;
	// Ignore looks at no IPv6.
	// +kubebuilder:default=IfConfigured
	// +optional
	IPv6 GuestIPv6 `json:"ipv6,omitempty"`
}

// BridgedVMSpec is the desired network identity of a VM bridged onto OVH's
// network.
// +kubebuilder:validation:XValidation:rule="self.nics.all(n, !has(n.label) || self.nics.exists_one(m, has(m.label) && m.label == n.label))",message="each NIC label may appear only once"
// +kubebuilder:validation:XValidation:rule="self.nics.all(n, !has(n.index) || self.nics.exists_one(m, has(m.index) && m.index == n.index))",message="each NIC index may appear only once"
type BridgedVMSpec struct {
	// esxi says how to reach the ESXi host.
	ESXi ESXiConnection `json:"esxi"`

	// vmName is the VM's name in the ESXi inventory.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=80
	VMName string `json:"vmName"`

	// nics are the NICs the operator keeps on the right port group with the
	// right MAC. NICs not listed are left alone.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	NICs []NICSpec `json:"nics"`

	// powerState is the power state to keep the VM in. Omit it to leave power
	// alone (except for a power cycle allowed by allowPowerCycle).
	// +optional
	PowerState PowerState `json:"powerState,omitempty"`

	// allowPowerCycle lets the operator power a running VM off, change its
	// MAC and power it on again. ESXi (and OVH's guide) want the VM off to
	// change a MAC; without this flag the operator reports PowerOffRequired
	// and waits for a person to do it.
	// +optional
	AllowPowerCycle bool `json:"allowPowerCycle,omitempty"`

	// guest says what is checked inside the VM, through VMware Tools.
	// +optional
	Guest *GuestSpec `json:"guest,omitempty"`

	Policies `json:",inline"`
}

// GuestChecked says whether the guest's network is to be checked.
func (s BridgedVMSpec) GuestChecked() bool {
	return s.Guest == nil || s.Guest.Check != GuestCheckDisabled
}

// GuestIPv6Mode is spec.guest.ipv6, IfConfigured when unset.
func (s BridgedVMSpec) GuestIPv6Mode() GuestIPv6 {
	if s.Guest == nil || s.Guest.IPv6 == "" {
		return GuestIPv6IfConfigured
	}
	return s.Guest.IPv6
}

// NICStatus is one NIC as ESXi reports it.
type NICStatus struct {
	// label is the device label, e.g. "Network adapter 2".
	Label string `json:"label"`
	// index is the NIC's position among the VM's NICs.
	Index int32 `json:"index"`
	// mac is the NIC's current MAC address.
	// +optional
	MAC string `json:"mac,omitempty"`
	// addressType is how ESXi assigned the MAC: manual, generated or assigned.
	// +optional
	AddressType string `json:"addressType,omitempty"`
	// portGroup is the port group the NIC is attached to.
	// +optional
	PortGroup string `json:"portGroup,omitempty"`
	// connected says whether the virtual cable is plugged in.
	// +optional
	Connected bool `json:"connected,omitempty"`
}

// GuestRoute is a route inside the guest, as VMware Tools reports it.
type GuestRoute struct {
	// network is the destination, e.g. 0.0.0.0/0 or 198.51.100.254/32.
	Network string `json:"network"`
	// gateway is the next hop, empty for on-link routes.
	// +optional
	Gateway string `json:"gateway,omitempty"`
	// device is the position, in nics, of the interface the route leaves
	// through.
	// +optional
	Device string `json:"device,omitempty"`
}

// GuestNIC is one interface of the guest, as VMware Tools report it.
type GuestNIC struct {
	// mac is the interface's MAC address.
	MAC string `json:"mac"`
	// addresses in CIDR notation, e.g. 203.0.113.124/32 (bare when Tools
	// give no prefix length).
	// +listType=atomic
	// +optional
	Addresses []string `json:"addresses,omitempty"`
}

// GuestInfo is what VMware Tools reports from inside the VM.
type GuestInfo struct {
	// toolsRunning says whether VMware Tools is running; the rest is empty
	// otherwise.
	ToolsRunning bool `json:"toolsRunning"`
	// ipAddresses are the guest's IP addresses.
	// +listType=atomic
	// +optional
	IPAddresses []string `json:"ipAddresses,omitempty"`
	// nics are the guest's interfaces in the order Tools list them (a
	// route's device is a position in this list).
	// +listType=atomic
	// +optional
	NICs []GuestNIC `json:"nics,omitempty"`
	// routes are the guest's routes, IPv4 and IPv6 (Tools report both:
	// open-vm-tools reads /proc/net/route and /proc/net/ipv6_route).
	// +listType=atomic
	// +optional
	Routes []GuestRoute `json:"routes,omitempty"`
}

// PowerCycleStep is a step of a MAC change on a running VM.
// +kubebuilder:validation:Enum=PowerOff;Reconfigure;PowerOn
type PowerCycleStep string

const (
	StepPowerOff    PowerCycleStep = "PowerOff"
	StepReconfigure PowerCycleStep = "Reconfigure"
	StepPowerOn     PowerCycleStep = "PowerOn"
)

// ESXiTask is an ESXi task the operator started and has not seen finish.
type ESXiTask struct {
	// step is what the task does within a power cycle or reconfiguration.
	Step PowerCycleStep `json:"step"`
	// ref is the task's managed object reference, e.g. "Task:haTask-1-vim...".
	Ref string `json:"ref"`
	// startedAt is when the operator started the task.
	StartedAt metav1.Time `json:"startedAt"`
	// powerCycle is true when the operator powered the VM off itself and
	// must power it on again after the reconfiguration.
	// +optional
	PowerCycle bool `json:"powerCycle,omitempty"`
}

// ESXiTaskFailure is an ESXi task of the operator's that failed, or a call
// ESXi refused outright. The operator does not start the same step again for
// the same generation of the spec: the error usually needs a person (someone
// powered the VM on in the middle of a power cycle, a device edit the host
// rejects), and retrying would loop on it.
type ESXiTaskFailure struct {
	// step is what the task was doing.
	Step PowerCycleStep `json:"step"`
	// ref is the task's managed object reference; empty when ESXi refused
	// the call before starting a task.
	// +optional
	Ref string `json:"ref,omitempty"`
	// fault is the vSphere fault type, e.g. InvalidPowerState.
	// +optional
	Fault string `json:"fault,omitempty"`
	// error is the host's message.
	// +optional
	Error string `json:"error,omitempty"`
	// generation of the spec the task was started for.
	Generation int64 `json:"generation"`
	// finishedAt is when the operator saw the failure.
	FinishedAt metav1.Time `json:"finishedAt"`
}

// BridgedVMStatus is what the operator observed in ESXi.
type BridgedVMStatus struct {
	ResourceStatus `json:",inline"`

	// vmRef is the VM's managed object reference.
	// +optional
	VMRef string `json:"vmRef,omitempty"`

	// powerState is the VM's power state.
	// +optional
	PowerState PowerState `json:"powerState,omitempty"`

	// nics are the VM's NICs as observed.
	// +listType=atomic
	// +optional
	NICs []NICStatus `json:"nics,omitempty"`

	// guest is what VMware Tools report, when they run.
	// +optional
	Guest *GuestInfo `json:"guest,omitempty"`

	// pendingTask is the ESXi task in flight, if any.
	// +optional
	PendingTask *ESXiTask `json:"pendingTask,omitempty"`

	// lastFailedTask is the last ESXi task that failed, kept until the spec
	// changes or the drift it was meant to fix is gone.
	// +optional
	LastFailedTask *ESXiTaskFailure `json:"lastFailedTask,omitempty"`
}

// BridgedVM is an ESXi VM whose NICs sit on the right port groups with the OVH
// virtual MACs of their failover IPs.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=bvm,categories=ovhbridge
// +kubebuilder:printcolumn:name="VM",type=string,JSONPath=`.spec.vmName`
// +kubebuilder:printcolumn:name="Power",type=string,JSONPath=`.status.powerState`
// +kubebuilder:printcolumn:name="Guest",type=string,JSONPath=`.status.conditions[?(@.type=="GuestNetworkConfigured")].reason`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.managementPolicy`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BridgedVM struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired state of the VM's NICs and power.
	Spec BridgedVMSpec `json:"spec"`

	// status is what the operator last observed in ESXi.
	// +optional
	Status BridgedVMStatus `json:"status,omitempty"`
}

// BridgedVMList is a list of BridgedVMs.
//
// +kubebuilder:object:root=true
type BridgedVMList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BridgedVM `json:"items"`
}

func init() {
	register(&BridgedVM{}, &BridgedVMList{})
}
