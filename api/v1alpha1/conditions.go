package v1alpha1

// Condition types shared by every kind.
const (
	// TypeReady summarises: True when the external world matches the spec.
	TypeReady = "Ready"
	// TypeSynced is True when the last reconcile could talk to the external
	// system; it keeps "cannot see" apart from "differs".
	TypeSynced = "Synced"
	// TypeReconciling (kstatus) exists only while a task or commit is in flight.
	TypeReconciling = "Reconciling"
	// TypeStalled (kstatus) exists only while a terminal error needs a human.
	TypeStalled = "Stalled"
)

// FailoverIP condition types.
const (
	TypeRouted             = "Routed"
	TypeVirtualMACAssigned = "VirtualMACAssigned"
	// TypeReverseConfigured: the IP's reverse DNS (PTR) is spec.reverse.
	TypeReverseConfigured = "ReverseConfigured"
)

// BridgedVM condition types.
const (
	TypeMACConfigured     = "MACConfigured"
	TypeNetworkAttached   = "NetworkAttached"
	TypePowerStateMatches = "PowerStateMatches"
)

// RouterConfig condition types. IPv6 adds no condition of its own (the
// vocabulary is the architecture's): GatewayRoutePresent covers both
// families' gateway and default routes, ARPTableHealthy both neighbour
// tables (ARP and NDP) and the NDP proxy entries; the reasons name the
// family (GatewayRoute6Missing, NDPFlood, ...).
const (
	TypeConfigApplied       = "ConfigApplied"
	TypeConfigSaved         = "ConfigSaved"
	TypeGatewayRoutePresent = "GatewayRoutePresent"
	TypeARPTableHealthy     = "ARPTableHealthy"
	TypeBootScriptPersisted = "BootScriptPersisted"
)

// Reasons. One CamelCase reason per failure mode, so that alerts and humans
// can tell them apart without parsing messages.
const (
	// Generic.
	ReasonAvailable          = "Available"
	ReasonFirstObservation   = "FirstObservation"
	ReasonReconcileSuccess   = "ReconcileSuccess"
	ReasonReconcilePaused    = "ReconcilePaused"
	ReasonCredentialsInvalid = "CredentialsInvalid"
	ReasonSecretNotFound     = "SecretNotFound"
	ReasonUnreachable        = "Unreachable"
	ReasonTrustFailure       = "TrustFailure"
	ReasonRateLimited        = "RateLimited"
	ReasonCapabilityMissing  = "CapabilityMissing"
	ReasonInvalidSpec        = "InvalidSpec"
	ReasonReferenceNotReady  = "ReferenceNotReady"
	ReasonDeleting           = "Deleting"
	ReasonExternalError      = "ExternalError"
	ReasonTaskInProgress     = "TaskInProgress"
	ReasonTaskFailed         = "TaskFailed"
	// ReasonClaimedByAnother: an object created earlier claims the same
	// external thing (the IP, the VM's NIC or power, the router); this one
	// makes no external call until that one is gone or claims something else.
	ReasonClaimedByAnother = "ClaimedByAnother"

	// FailoverIP.
	ReasonRoutedElsewhere    = "RoutedElsewhere"
	ReasonMoveInProgress     = "MoveInProgress"
	ReasonVirtualMACMissing  = "VirtualMACMissing"
	ReasonVirtualMACConflict = "VirtualMACConflict"
	// ReasonDuplicateVirtualMAC: the block's virtual MAC also serves an
	// address outside it that is not moving with it; OVH refuses to move
	// such a block.
	ReasonDuplicateVirtualMAC = "DuplicateVirtualMAC"
	// ReasonVirtualMACQuotaExceeded: the destination server would exceed its
	// virtual MAC quota with the block's MACs; OVH refuses the move.
	ReasonVirtualMACQuotaExceeded = "VirtualMACQuotaExceeded"
	// ReasonVirtualMACShared: the block's virtual MAC also serves addresses
	// of the same VM moving to the same server; the move waits for them to
	// leave the MAC (they rejoin it on the new server).
	ReasonVirtualMACShared = "VirtualMACShared"
	// ReasonAwaitingVirtualMAC: the address's virtual MAC is expected on the
	// server (following a move) rather than created again.
	ReasonAwaitingVirtualMAC = "AwaitingVirtualMAC"
	// ReasonPartOfBlock: the FailoverIP names one address of a wider block
	// that is routed elsewhere; OVH moves blocks only as a whole.
	ReasonPartOfBlock = "PartOfBlock"
	// ReasonReverseMismatch: the IP's reverse DNS name is not spec.reverse.
	ReasonReverseMismatch = "ReverseMismatch"
	// ReasonReverseRefused: OVH refused to set spec.reverse, in practice
	// because the name does not resolve to the IP (the A record is missing
	// or not propagated yet). Tried again after a back-off, or at once when
	// the spec changes.
	ReasonReverseRefused = "ReverseRefused"

	// BridgedVM.
	ReasonMACMismatch        = "MACMismatch"
	ReasonWrongPortGroup     = "WrongPortGroup"
	ReasonPowerOffRequired   = "PowerOffRequired"
	ReasonVMNotFound         = "VMNotFound"
	ReasonNICNotFound        = "NICNotFound"
	ReasonPortGroupNotFound  = "PortGroupNotFound"
	ReasonFailoverIPNotReady = "FailoverIPNotReady"
	ReasonPowerStateMismatch = "PowerStateMismatch"

	// RouterConfig.
	ReasonGatewayRouteMissing        = "GatewayRouteMissing"
	ReasonDefaultRouteWithoutGateway = "DefaultRouteWithoutGateway"
	ReasonARPFlood                   = "ARPFlood"
	ReasonGatewayARPMissing          = "GatewayARPMissing"
	ReasonBootScriptMissing          = "BootScriptMissing"
	ReasonUnsavedConfig              = "UnsavedConfig"
	ReasonNATRuleMissing             = "NATRuleMissing"
	ReasonConfigDrift                = "ConfigDrift"
	ReasonCommitFailed               = "CommitFailed"
	// ReasonRepairing: a router repair (commit, save, boot script, routes)
	// is under way (Reconciling).
	ReasonRepairing = "Repairing"

	// RouterConfig, IPv6 (the same failure modes as IPv4's: OVH's IPv6
	// gateway is outside the server's block, so off-link too).
	//
	// ReasonGatewayRoute6Missing: no IPv6 default route via the gateway on
	// the WAN, or no on-link route to a global gateway.
	ReasonGatewayRoute6Missing = "GatewayRoute6Missing"
	// ReasonDefaultRoute6WithoutGateway: the IPv6 default route names the
	// WAN interface but no gateway, so every destination is on-link and the
	// router sends a neighbour solicitation for each one.
	ReasonDefaultRoute6WithoutGateway = "DefaultRoute6WithoutGateway"
	// ReasonNDPFlood: the WAN's IPv6 neighbour table holds entries for
	// off-link destinations, most of them sharing one MAC (or never
	// resolved): IPv6's ARP flood.
	ReasonNDPFlood = "NDPFlood"
	// ReasonGatewayNDPMissing: off-link destinations have neighbour entries
	// but the IPv6 gateway has no resolved one.
	ReasonGatewayNDPMissing = "GatewayNDPMissing"
	// ReasonNDPProxyMissing: an address of spec.wan.ipv6.ndpProxy has no
	// proxy entry on the WAN, so the router does not answer OVH's gateway
	// for it and the machine behind the router is unreachable over IPv6.
	ReasonNDPProxyMissing = "NDPProxyMissing"
)

// Reasons of conditions that are True: what is right, in one word each.
const (
	// FailoverIP.
	ReasonRouted          = "Routed"
	ReasonAssigned        = "Assigned"
	ReasonNotRequested    = "NotRequested"
	ReasonWaitingForRoute = "WaitingForRoute"
	// BridgedVM.
	ReasonConfigured = "Configured"
	ReasonAttached   = "Attached"
	ReasonMatches    = "Matches"
	ReasonNotManaged = "NotManaged"
	// RouterConfig.
	ReasonApplied     = "Applied"
	ReasonSaved       = "Saved"
	ReasonPresent     = "Present"
	ReasonHealthy     = "Healthy"
	ReasonPersisted   = "Persisted"
	ReasonNotRequired = "NotRequired"
)

// Event reasons for decisions that are not condition transitions.
const (
	// ReasonTaskStarted: an external task (OVH, ESXi) was started.
	ReasonTaskStarted = "TaskStarted"
	// ReasonIntentAbandoned: a write intent recorded in status.pendingTask
	// never showed a task or an effect within its grace period; the operator
	// concludes the write was never sent and decides afresh.
	ReasonIntentAbandoned = "IntentAbandoned"
)

// BridgedVM: the guest's own network, as VMware Tools report it.
const (
	// TypeGuestNetworkConfigured is True when the guest has what its
	// failover IPs need: each address as a /32 on the interface carrying
	// its virtual MAC, an on-link route to the server's gateway there, and
	// the default route via that gateway.
	TypeGuestNetworkConfigured = "GuestNetworkConfigured"

	ReasonGuestAddressMissing    = "GuestAddressMissing"
	ReasonGuestAddressOnWrongNIC = "GuestAddressOnWrongNIC"
	// ReasonGuestForeignAddress: an address on the virtual MAC's interface
	// that no FailoverIP bound to that MAC holds.
	ReasonGuestForeignAddress = "GuestForeignAddress"
	// ReasonGuestDefaultRouteWithoutGateway: the write-up's ARP flood, in
	// any bridged VM.
	ReasonGuestDefaultRouteWithoutGateway = "GuestDefaultRouteWithoutGateway"
	ReasonGuestGatewayRouteMissing        = "GuestGatewayRouteMissing"
	ReasonGuestDefaultRouteMissing        = "GuestDefaultRouteMissing"
	// ReasonGuestToolsNotRunning makes GuestNetworkConfigured Unknown:
	// without VMware Tools nothing can be known of the guest.
	ReasonGuestToolsNotRunning = "GuestToolsNotRunning"
)

// BridgedVM: the guest's IPv6 on the WAN, under GuestNetworkConfigured too,
// checked when the FailoverIP knows its server's IPv6 block (status.ipv6)
// and spec.guest.ipv6 is not Ignore. Named like the router's IPv6 reasons
// (GatewayRoute6Missing, DefaultRoute6WithoutGateway): the IPv4 reason with
// a 6.
const (
	// ReasonGuestAddress6Missing: no address of the server's IPv6 block on
	// a virtual MAC's interface (under spec.guest.ipv6 Required), or one on
	// an interface without a virtual MAC, where OVH does not deliver it.
	ReasonGuestAddress6Missing = "GuestAddress6Missing"
	// ReasonGuestGatewayRoute6Missing: no on-link route to the IPv6
	// gateway, which lies outside the block (not needed for a link-local
	// gateway such as fe80::1).
	ReasonGuestGatewayRoute6Missing = "GuestGatewayRoute6Missing"
	// ReasonGuestDefaultRoute6Missing: no IPv6 default route via the
	// gateway (none, or via another router).
	ReasonGuestDefaultRoute6Missing = "GuestDefaultRoute6Missing"
	// ReasonGuestDefaultRoute6WithoutGateway: an IPv6 default route
	// without a gateway: the guest solicits every destination (the NDP
	// flood, IPv6's ARP flood).
	ReasonGuestDefaultRoute6WithoutGateway = "GuestDefaultRoute6WithoutGateway"
)
