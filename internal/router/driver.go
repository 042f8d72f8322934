package router

import (
	"context"
	"fmt"
	"time"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
)

// Driver is everything the RouterConfig controller needs from one router.
// Every method takes a context whose deadline bounds the remote call.
// Writes (Apply, Save, WriteBootScript, ReplaceRoutes, FlushNeighbours) are
// serialised per router address inside this package, so two reconciles never
// commit on the same router at once.
type Driver interface {
	// Probe identifies the platform and release. Drivers constructed with
	// a known platform return it without a remote call.
	Probe(ctx context.Context) (PlatformInfo, error)
	// ReadConfig returns the running (active) configuration below the
	// owned prefixes.
	ReadConfig(ctx context.Context, owned []Path) (Config, error)
	// ReadSavedConfig returns the saved configuration (config.boot) below
	// the owned prefixes: what the router would run after a reboot.
	// The HTTP API offers no way to read it; that driver returns
	// cause.CapabilityMissing.
	ReadSavedConfig(ctx context.Context, owned []Path) (Config, error)
	// Apply commits tx as ONE commit. A failed commit returns the router's
	// error text (Invalid), or Conflict while another commit holds the lock;
	// a connection lost mid-commit returns Unreachable and the caller must
	// re-read, because the commit may or may not have happened.
	Apply(ctx context.Context, tx Transaction) error
	// Save writes the running configuration to config.boot.
	Save(ctx context.Context) error
	// Routes lists the kernel's IPv4 main routing table.
	Routes(ctx context.Context) ([]Route, error)
	// Neighbours lists the IPv4 neighbour cache of dev (all devices if "").
	Neighbours(ctx context.Context, dev string) ([]Neighbour, error)
	// Routes6 lists the kernel's IPv6 main routing table.
	Routes6(ctx context.Context) ([]Route, error)
	// Neighbours6 lists the IPv6 neighbour (NDP) cache of dev (all
	// devices if "").
	Neighbours6(ctx context.Context, dev string) ([]Neighbour, error)
	// BootScript reads the post-config boot script.
	BootScript(ctx context.Context) (BootScript, error)
	// WriteBootScript replaces the boot script's content atomically and
	// makes it executable.
	WriteBootScript(ctx context.Context, content string) error
	// ReplaceRoutes installs routes now with `ip route replace`, the same
	// commands the boot script runs at the next boot.
	ReplaceRoutes(ctx context.Context, routes []Route) error
	// FlushNeighbours empties dev's neighbour cache. After the default route
	// is fixed, the per-destination entries the flood created (all with the
	// gateway's MAC) would otherwise stay until they age out, and the ARP
	// table would keep looking flooded — and a stale entry keeps traffic for
	// that destination on-link.
	FlushNeighbours(ctx context.Context, dev string) error
	// FlushNeighbours6 empties dev's IPv6 neighbour cache, for the same
	// reason after an NDP flood.
	FlushNeighbours6(ctx context.Context, dev string) error
	// NDPProxies lists dev's IPv6 proxy neighbour entries (the addresses
	// the router answers neighbour solicitations for there);
	// cause.CapabilityMissing over the HTTP API, which cannot list them.
	NDPProxies(ctx context.Context, dev string) ([]string, error)
	// AddNDPProxies installs proxy entries for addrs on dev now (`ip -6
	// neigh replace proxy`, idempotent); SSH only.
	AddNDPProxies(ctx context.Context, dev string, addrs []string) error
	// Close releases the connection.
	Close() error
}

// Kind selects the transport (spec.router.driver).
type Kind string

// Transports.
const (
	SSH     Kind = "ssh"
	VyOSAPI Kind = "vyos-api"
)

// Endpoint says how to reach one router.
type Endpoint struct {
	Kind Kind
	// Address is host[:port] for SSH (default port 22) and host[:port] or
	// an https:// URL for the HTTP API (default port 443).
	Address string
	// Platform, when set, skips probing.
	Platform Platform
	// Timeout bounds connection set-up when the context has no deadline
	// (default 15s).
	Timeout time.Duration
	// CallTimeout bounds each remote call (connection set-up included)
	// when the context has no deadline (default 2m, room for a slow
	// Vyatta commit). Without it a router that accepts a request and never
	// answers would hold a reconcile forever.
	CallTimeout time.Duration
}

// New builds the driver for ep from the credentials Secret's data.
func New(ep Endpoint, secret map[string][]byte) (Driver, error) {
	if ep.Platform != "" && !ep.Platform.Valid() {
		return nil, invalid("Connect", fmt.Sprintf("unknown platform %q", ep.Platform), nil)
	}
	switch ep.Kind {
	case SSH:
		creds, err := SSHCredentialsFromSecret(secret)
		if err != nil {
			return nil, err
		}
		return NewSSH(ep, creds)
	case VyOSAPI:
		if ep.Platform != "" && !ep.Platform.HasHTTPAPI() {
			return nil, cause.New(cause.CapabilityMissing, system, "Connect", "Vyatta 6 has no HTTP API; use the ssh driver", nil)
		}
		creds, err := APICredentialsFromSecret(secret)
		if err != nil {
			return nil, err
		}
		return NewAPI(ep, creds)
	}
	return nil, invalid("Connect", fmt.Sprintf("unknown driver %q (want %s or %s)", ep.Kind, SSH, VyOSAPI), nil)
}

func (ep Endpoint) timeout() time.Duration {
	if ep.Timeout > 0 {
		return ep.Timeout
	}
	return 15 * time.Second
}

// callContext bounds one remote call by CallTimeout, or by ctx's own
// deadline when that comes first (a reconcile's).
func (ep Endpoint) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := ep.CallTimeout
	if d <= 0 {
		d = 2 * time.Minute
	}
	return context.WithTimeout(ctx, d)
}
