package ovh

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	govh "github.com/ovh/go-ovh/ovh"

	"github.com/ovhbridge/ovhbridge-operator/internal/cause"
	"github.com/ovhbridge/ovhbridge-operator/internal/metrics"
)

// Client is everything the operator asks of the OVH API. Every error it
// returns is a *cause.Error. Writes return the OVH task they started and
// never wait for it: callers store the task id and look again later.
type Client interface {
	// ServerIPs lists the IP blocks routed to a server (its main IP and
	// every additional IP), e.g. "203.0.113.123/32": one call answers for
	// every FailoverIP of the server.
	ServerIPs(ctx context.Context, server string) ([]string, error)
	// IP reads one IP block; use it for IPs not routed to the expected
	// server. For a single address OVH sells inside a wider block, it
	// reads that block: the record's IP is then the block.
	IP(ctx context.Context, ip string) (IPRecord, error)
	// VirtualMACs lists a server's virtual MACs.
	VirtualMACs(ctx context.Context, server string) ([]string, error)
	// VirtualMAC reads a virtual MAC's type and bound IPs (two calls).
	VirtualMAC(ctx context.Context, server, mac string) (VirtualMAC, error)
	// ServerNetwork reads a server's gateway, main IP and vMAC support.
	ServerNetwork(ctx context.Context, server string) (ServerNetwork, error)
	// MoveIP starts routing an IP block to a server.
	MoveIP(ctx context.Context, ip, to string) (Task, error)
	// CreateVirtualMAC starts creating a virtual MAC for an IP. OVH answers
	// with a task, not the MAC: find the MAC by listing once it is done.
	CreateVirtualMAC(ctx context.Context, server, ip, macType, vmName string) (Task, error)
	// BindIP starts binding one more IP to an existing virtual MAC.
	BindIP(ctx context.Context, server, mac, ip, vmName string) (Task, error)
	// UnbindIP starts removing an IP from a virtual MAC; removing the last
	// one deletes the MAC.
	UnbindIP(ctx context.Context, server, mac, ip string) (Task, error)
	// IPTask reads a task returned by MoveIP.
	IPTask(ctx context.Context, ip string, id int64) (Task, error)
	// ServerTask reads a task returned by the virtual MAC writes.
	ServerTask(ctx context.Context, server string, id int64) (Task, error)
	// IPTasks lists the ids of an IP's tasks of a kind, oldest first: kind
	// is a TaskKind or any function name of one (FunctionMoveIP, say), and
	// every function name OVH uses for that kind is queried; another name
	// is queried as it is, and "" lists every task. With ServerTasks, it
	// lets a caller that recorded the intent of a write, but not the task
	// it started, find that task instead of writing again, whichever of
	// OVH's names the task carries.
	IPTasks(ctx context.Context, ip, kind string) ([]int64, error)
	// ServerTasks lists the ids of a server's tasks of a kind, as IPTasks.
	ServerTasks(ctx context.Context, server, kind string) ([]int64, error)
	// Reverse reads the reverse DNS name (PTR) OVH serves for addr, an
	// address of block, fully qualified ("mail.example.com."); "" when it
	// has none. One call.
	Reverse(ctx context.Context, block, addr string) (string, error)
	// SetReverse sets or replaces addr's reverse and returns it as OVH
	// stores it. No task: OVH answers at once. OVH refuses (400, Invalid) a
	// name that does not resolve to addr: the A record must exist first.
	SetReverse(ctx context.Context, block, addr, name string) (string, error)
}

// Virtual MAC types.
const (
	MACTypeVMware = "vmware" // what ESXi needs
	MACTypeOVH    = "ovh"
)

// IPRecord is an additional IP block as OVH describes it.
type IPRecord struct {
	IP       string // canonical block, "203.0.113.123/32"
	Type     string // "failover", "additional", "dedicated", ...
	RoutedTo string // server service name; empty when parked
}

// VirtualMAC is a server's virtual MAC and the IPs bound to it.
type VirtualMAC struct {
	MAC  string // lowercase, colon-separated
	Type string // MACTypeVMware or MACTypeOVH
	IPs  []string
}

// ServerNetwork is the part of a server's network specification bridged VMs
// depend on.
type ServerNetwork struct {
	// Gateway is the IPv4 gateway bridged VMs must use. OVH states it here;
	// the ".254 of the main IP's /24" rule does not hold for newer ranges.
	Gateway       string
	MainIP        string // without prefix length
	Network       string // e.g. "198.51.100.0/24"
	VMACSupported bool
	// VMACQuota is how many virtual MACs the server may have (vmac.quota).
	VMACQuota int
	// IPv6Block is the server's IPv6 block (routing.ipv6.ip, a /64 on
	// most ranges, e.g. "2001:db8:1:1::/64") and IPv6Gateway its gateway
	// (routing.ipv6.gateway): outside the block — the enclosing /56's
	// last addresses on the older ranges, fe80::1 on some newer ones
	// (ovh/docs pages/bare_metal_cloud/dedicated_servers/network_ipv6/
	// guide.en-gb.md). Both empty when OVH states no IPv6 for the server.
	IPv6Block   string
	IPv6Gateway string
}

// Task functions, as OVH names them: one name per kind of task the operator
// starts, the one it records. OVH has more than one name for some kinds (see
// TaskKind); which it gives a task is not documented.
const (
	FunctionMoveIP           = "genericMoveFloatingIp"
	FunctionAddVirtualMAC    = "virtualMacAdd" // create a vMAC, or bind an IP to one
	FunctionRemoveVirtualMAC = "virtualMacDelete"
)

// TaskKind is a kind of work OVH does in tasks, under any of its function
// names. OVH's schema lists, in dedicated.TaskFunctionEnum, both
// virtualMacAdd and addVirtualMac, virtualMacDelete and removeVirtualMac,
// moveVirtualMac, genericMoveFloatingIp and moveFloatingIp (github
// ovh/ovhcloud-cli, internal/assets/api-schemas/baremetal.json); OVH's own
// control panel waits on all four virtual MAC names (github ovh/manager,
// packages/manager/apps/ips/src/utils/vmacDataRefresh.constants.ts).
type TaskKind string

const (
	// KindMoveIP: routing an IP block to another service.
	KindMoveIP TaskKind = "moveIP"
	// KindAddVirtualMAC: creating a virtual MAC or binding an IP to one.
	KindAddVirtualMAC TaskKind = "addVirtualMAC"
	// KindRemoveVirtualMAC: unbinding an IP (the last one deletes the MAC).
	KindRemoveVirtualMAC TaskKind = "removeVirtualMAC"
	// KindMoveVirtualMAC: a virtual MAC following its block to a server.
	KindMoveVirtualMAC TaskKind = "moveVirtualMAC"
)

// taskNames are each kind's function names per task list: a list is only
// queried for names its function filter's enum accepts (the IP task list's
// ip.TaskFunctionEnum has genericMoveFloatingIp alone; moveFloatingIp is in
// dedicated.TaskFunctionEnum and in older ip descriptions).
var taskNames = map[TaskKind]struct{ ip, server []string }{
	KindMoveIP:           {ip: []string{FunctionMoveIP}, server: []string{FunctionMoveIP, "moveFloatingIp"}},
	KindAddVirtualMAC:    {server: []string{FunctionAddVirtualMAC, "addVirtualMac"}},
	KindRemoveVirtualMAC: {server: []string{FunctionRemoveVirtualMAC, "removeVirtualMac"}},
	KindMoveVirtualMAC:   {server: []string{"moveVirtualMac"}},
}

// Functions lists every function name OVH uses for the kind.
func (k TaskKind) Functions() []string {
	n := taskNames[k]
	var out []string
	for _, f := range append(append([]string{}, n.ip...), n.server...) {
		if !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// TaskKindOf returns the kind of a function name (or of a kind's name), ""
// for a function no kind has.
func TaskKindOf(function string) TaskKind {
	if _, isKind := taskNames[TaskKind(function)]; isKind {
		return TaskKind(function)
	}
	for k := range taskNames {
		if slices.Contains(k.Functions(), function) {
			return k
		}
	}
	return ""
}

// Task statuses (OVH's enum, the same for IP and server tasks).
const (
	TaskInit          = "init"
	TaskTodo          = "todo"
	TaskDoing         = "doing"
	TaskDone          = "done"
	TaskCancelled     = "cancelled"
	TaskCustomerError = "customerError"
	TaskOVHError      = "ovhError"
)

// Task is an OVH task started by a write.
type Task struct {
	ID         int64
	Function   string // e.g. "genericMoveFloatingIp"
	Status     string
	Comment    string // why it failed, when it did
	Started    time.Time
	Done       time.Time // zero until finished
	LastUpdate time.Time
}

// Kind is the kind of work the task does, whichever of OVH's names it has.
func (t Task) Kind() TaskKind { return TaskKindOf(t.Function) }

// Succeeded reports the task is done.
func (t Task) Succeeded() bool { return t.Status == TaskDone }

// Failed reports the task ended without doing its work; Comment says why.
func (t Task) Failed() bool {
	return t.Status == TaskCancelled || t.Status == TaskCustomerError || t.Status == TaskOVHError
}

// Pending reports the task has not finished. A status this package does not
// know counts as pending: the caller keeps looking at the resource itself.
func (t Task) Pending() bool { return !t.Succeeded() && !t.Failed() }

// RecordFinished adds a finished task to metrics.TaskDuration, by function
// and final status. A controller calls it once per task, when it sees the
// task finish and clears it from its status; unfinished tasks are ignored.
func (t Task) RecordFinished() {
	if t.Pending() || t.Started.IsZero() || t.Done.IsZero() {
		return
	}
	metrics.TaskDuration.WithLabelValues("ovh", t.Function, t.Status).Observe(t.Done.Sub(t.Started).Seconds())
}

// Block returns the canonical IP block for an address or block:
// "203.0.113.123" and "203.0.113.123/32" both give "203.0.113.123/32".
func Block(ip string) (string, error) {
	s := strings.TrimSpace(ip)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return "", err
		}
		return p.Masked().String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", err
	}
	return netip.PrefixFrom(a, a.BitLen()).String(), nil
}

// apiClient implements Client with go-ovh. go-ovh signs requests but is not
// safe for concurrent use (NewRequest writes the shared http.Client's
// Timeout on every call), so building the signed request happens under
// signMu and sending it happens outside, through a separate http.Client.
// Every request takes its share of the consumer key's budget first.
type apiClient struct {
	signMu sync.Mutex
	api    *govh.Client
	http   *http.Client
	retry  RetryPolicy
	budget *budget
}

func (c *apiClient) ServerIPs(ctx context.Context, server string) ([]string, error) {
	const op = "ServerIPs"
	if err := required(op, "server", server); err != nil {
		return nil, err
	}
	// No type filter: OVH renamed "failover" IPs "additional" and the
	// operator only needs to know what is routed here.
	var ips []string
	err := c.call(ctx, op, http.MethodGet, "/ip?"+url.Values{"routedTo.serviceName": {server}}.Encode(), nil, &ips)
	return ips, err
}

func (c *apiClient) IP(ctx context.Context, ip string) (IPRecord, error) {
	const op = "IP"
	block, err := blockArg(op, ip)
	if err != nil {
		return IPRecord{}, err
	}
	var raw struct {
		IP       string          `json:"ip"`
		Type     string          `json:"type"`
		RoutedTo json.RawMessage `json:"routedTo"`
	}
	err = c.call(ctx, op, http.MethodGet, "/ip/"+url.PathEscape(block), nil, &raw)
	if cause.Is(err, cause.NotFound) && strings.HasSuffix(block, "/32") {
		// OVH's objects are the blocks it sells: an address of a wider
		// block is none (test/sim/ovh AddressInBlock). The list's "ip"
		// filter, "contains or equals" (github ovh/ovhcloud-cli,
		// internal/assets/api-schemas/ip.json), names its block.
		var blocks []string
		if lerr := c.call(ctx, op, http.MethodGet, "/ip?"+url.Values{"ip": {block}}.Encode(), nil, &blocks); lerr != nil {
			return IPRecord{}, lerr
		}
		if container := narrowestContaining(blocks, block); container != "" {
			err = c.call(ctx, op, http.MethodGet, "/ip/"+url.PathEscape(container), nil, &raw)
		}
	}
	if err != nil {
		return IPRecord{}, err
	}
	return IPRecord{IP: mustBlock(raw.IP), Type: raw.Type, RoutedTo: routedTo(raw.RoutedTo)}, nil
}

// narrowestContaining returns the narrowest of blocks that contains block
// and is wider than it, "" when none.
func narrowestContaining(blocks []string, block string) string {
	want, err := netip.ParsePrefix(block)
	if err != nil {
		return ""
	}
	var best netip.Prefix
	for _, b := range blocks {
		p, err := netip.ParsePrefix(b)
		if err != nil || p.Bits() >= want.Bits() || !p.Contains(want.Addr()) {
			continue
		}
		if !best.IsValid() || p.Bits() > best.Bits() {
			best = p
		}
	}
	if !best.IsValid() {
		return ""
	}
	return best.Masked().String()
}

// routedTo accepts every shape OVH uses for a parked IP: null,
// {"serviceName": null} and "".
func routedTo(raw json.RawMessage) string {
	var obj struct {
		ServiceName *string `json:"serviceName"`
	}
	if json.Unmarshal(raw, &obj) == nil && obj.ServiceName != nil {
		return *obj.ServiceName
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

func (c *apiClient) VirtualMACs(ctx context.Context, server string) ([]string, error) {
	const op = "VirtualMACs"
	if err := required(op, "server", server); err != nil {
		return nil, err
	}
	var macs []string
	err := c.call(ctx, op, http.MethodGet, serverPath(server, "virtualMac"), nil, &macs)
	for i, m := range macs {
		macs[i] = strings.ToLower(m)
	}
	return macs, err
}

func (c *apiClient) VirtualMAC(ctx context.Context, server, mac string) (VirtualMAC, error) {
	const op = "VirtualMAC"
	if err := required(op, "server", server); err != nil {
		return VirtualMAC{}, err
	}
	if err := required(op, "mac", mac); err != nil {
		return VirtualMAC{}, err
	}
	var detail struct {
		MacAddress string `json:"macAddress"`
		Type       string `json:"type"`
	}
	if err := c.call(ctx, op, http.MethodGet, serverPath(server, "virtualMac", mac), nil, &detail); err != nil {
		return VirtualMAC{}, err
	}
	var ips []string
	if err := c.call(ctx, op, http.MethodGet, serverPath(server, "virtualMac", mac, "virtualAddress"), nil, &ips); err != nil {
		return VirtualMAC{}, err
	}
	return VirtualMAC{MAC: strings.ToLower(detail.MacAddress), Type: detail.Type, IPs: ips}, nil
}

func (c *apiClient) ServerNetwork(ctx context.Context, server string) (ServerNetwork, error) {
	const op = "ServerNetwork"
	if err := required(op, "server", server); err != nil {
		return ServerNetwork{}, err
	}
	var spec struct {
		Routing struct {
			IPv4 struct {
				Gateway string `json:"gateway"`
				IP      string `json:"ip"`
				Network string `json:"network"`
			} `json:"ipv4"`
			// dedicated.server.RoutingDetailsIpv6 (ovhcloud-cli
			// internal/assets/api-schemas/baremetal.json): gateway an
			// ipv6, ip an ipv6Block, network an ipv6Block; null where a
			// server has no IPv6.
			IPv6 *struct {
				Gateway string `json:"gateway"`
				IP      string `json:"ip"`
			} `json:"ipv6"`
		} `json:"routing"`
		VMAC struct {
			Supported bool `json:"supported"`
			Quota     int  `json:"quota"`
		} `json:"vmac"`
	}
	if err := c.call(ctx, op, http.MethodGet, serverPath(server, "specifications", "network"), nil, &spec); err != nil {
		return ServerNetwork{}, err
	}
	mainIP, _, _ := strings.Cut(spec.Routing.IPv4.IP, "/")
	n := ServerNetwork{
		Gateway:       spec.Routing.IPv4.Gateway,
		MainIP:        mainIP,
		Network:       spec.Routing.IPv4.Network,
		VMACSupported: spec.VMAC.Supported,
		VMACQuota:     spec.VMAC.Quota,
	}
	if v6 := spec.Routing.IPv6; v6 != nil {
		n.IPv6Block, n.IPv6Gateway = canonicalIPv6Block(v6.IP), canonicalIPv6(v6.Gateway)
	}
	return n, nil
}

func (c *apiClient) MoveIP(ctx context.Context, ip, to string) (Task, error) {
	const op = "MoveIP"
	block, err := blockArg(op, ip)
	if err != nil {
		return Task{}, err
	}
	if err := required(op, "destination server", to); err != nil {
		return Task{}, err
	}
	return c.task(ctx, op, http.MethodPost, "/ip/"+url.PathEscape(block)+"/move", map[string]string{"to": to})
}

func (c *apiClient) CreateVirtualMAC(ctx context.Context, server, ip, macType, vmName string) (Task, error) {
	const op = "CreateVirtualMAC"
	addr, err := addressArg(op, ip)
	if err != nil {
		return Task{}, err
	}
	if err := required(op, "server", server); err != nil {
		return Task{}, err
	}
	if macType != MACTypeVMware && macType != MACTypeOVH {
		return Task{}, cause.New(cause.Invalid, "ovh", op, fmt.Sprintf("virtual MAC type %q is neither %s nor %s", macType, MACTypeVMware, MACTypeOVH), nil)
	}
	return c.task(ctx, op, http.MethodPost, serverPath(server, "virtualMac"),
		map[string]string{"ipAddress": addr, "type": macType, "virtualMachineName": vmName})
}

func (c *apiClient) BindIP(ctx context.Context, server, mac, ip, vmName string) (Task, error) {
	const op = "BindIP"
	addr, err := addressArg(op, ip)
	if err != nil {
		return Task{}, err
	}
	if err := required(op, "server", server); err != nil {
		return Task{}, err
	}
	if err := required(op, "mac", mac); err != nil {
		return Task{}, err
	}
	return c.task(ctx, op, http.MethodPost, serverPath(server, "virtualMac", mac, "virtualAddress"),
		map[string]string{"ipAddress": addr, "virtualMachineName": vmName})
}

func (c *apiClient) UnbindIP(ctx context.Context, server, mac, ip string) (Task, error) {
	const op = "UnbindIP"
	addr, err := addressArg(op, ip)
	if err != nil {
		return Task{}, err
	}
	if err := required(op, "server", server); err != nil {
		return Task{}, err
	}
	if err := required(op, "mac", mac); err != nil {
		return Task{}, err
	}
	return c.task(ctx, op, http.MethodDelete, serverPath(server, "virtualMac", mac, "virtualAddress", addr), nil)
}

func (c *apiClient) IPTask(ctx context.Context, ip string, id int64) (Task, error) {
	const op = "IPTask"
	block, err := blockArg(op, ip)
	if err != nil {
		return Task{}, err
	}
	return c.task(ctx, op, http.MethodGet, "/ip/"+url.PathEscape(block)+"/task/"+strconv.FormatInt(id, 10), nil)
}

func (c *apiClient) ServerTask(ctx context.Context, server string, id int64) (Task, error) {
	const op = "ServerTask"
	if err := required(op, "server", server); err != nil {
		return Task{}, err
	}
	return c.task(ctx, op, http.MethodGet, serverPath(server, "task", strconv.FormatInt(id, 10)), nil)
}

func (c *apiClient) IPTasks(ctx context.Context, ip, kind string) ([]int64, error) {
	const op = "IPTasks"
	block, err := blockArg(op, ip)
	if err != nil {
		return nil, err
	}
	names := []string{kind}
	if k := TaskKindOf(kind); k != "" {
		names = taskNames[k].ip
	}
	return c.taskIDs(ctx, op, "/ip/"+url.PathEscape(block)+"/task", names)
}

func (c *apiClient) ServerTasks(ctx context.Context, server, kind string) ([]int64, error) {
	const op = "ServerTasks"
	if err := required(op, "server", server); err != nil {
		return nil, err
	}
	names := []string{kind}
	if k := TaskKindOf(kind); k != "" {
		names = taskNames[k].server
	}
	return c.taskIDs(ctx, op, serverPath(server, "task"), names)
}

// taskIDs lists the tasks of every function name ("" for all), one call
// per name, merged and sorted; none when the list has no name of the kind.
func (c *apiClient) taskIDs(ctx context.Context, op, path string, functions []string) ([]int64, error) {
	var all []int64
	for _, fn := range functions {
		p := path
		if fn != "" {
			p += "?function=" + url.QueryEscape(fn)
		}
		var ids []int64
		if err := c.call(ctx, op, http.MethodGet, p, nil, &ids); err != nil {
			return nil, err
		}
		all = append(all, ids...)
	}
	slices.Sort(all)
	return slices.Compact(all), nil
}

func (c *apiClient) Reverse(ctx context.Context, block, addr string) (string, error) {
	const op = "Reverse"
	b, a, err := reverseArgs(op, block, addr)
	if err != nil {
		return "", err
	}
	var rev struct {
		Reverse string `json:"reverse"`
	}
	err = c.call(ctx, op, http.MethodGet, "/ip/"+url.PathEscape(b)+"/reverse/"+url.PathEscape(a), nil, &rev)
	if cause.Is(err, cause.NotFound) {
		// No reverse: OVH answers 404 for the object (github
		// ovh/terraform-provider-ovh, ovh/resource_ip_reverse_test.go treats
		// a 404 there as "no ip reverse set").
		return "", nil
	}
	return rev.Reverse, err
}

func (c *apiClient) SetReverse(ctx context.Context, block, addr, name string) (string, error) {
	const op = "SetReverse"
	b, a, err := reverseArgs(op, block, addr)
	if err != nil {
		return "", err
	}
	if err := required(op, "reverse", name); err != nil {
		return "", err
	}
	var rev struct {
		Reverse string `json:"reverse"`
	}
	err = c.call(ctx, op, http.MethodPost, "/ip/"+url.PathEscape(b)+"/reverse",
		map[string]string{"ipReverse": a, "reverse": name}, &rev)
	return rev.Reverse, err
}

// reverseArgs checks a block and one address of it.
func reverseArgs(op, block, addr string) (string, string, error) {
	b, err := blockArg(op, block)
	if err != nil {
		return "", "", err
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimSpace(addr), "/32"))
	if err != nil || !netip.MustParsePrefix(b).Contains(a) {
		return "", "", cause.New(cause.Invalid, "ovh", op, fmt.Sprintf("%q is not an address of %s", addr, b), err)
	}
	return b, a.String(), nil
}

func (c *apiClient) task(ctx context.Context, op, method, path string, body any) (Task, error) {
	var raw struct {
		TaskID     int64     `json:"taskId"`
		Function   string    `json:"function"`
		Status     string    `json:"status"`
		Comment    *string   `json:"comment"`
		StartDate  time.Time `json:"startDate"`
		DoneDate   time.Time `json:"doneDate"`
		LastUpdate time.Time `json:"lastUpdate"`
	}
	if err := c.call(ctx, op, method, path, body, &raw); err != nil {
		return Task{}, err
	}
	t := Task{ID: raw.TaskID, Function: raw.Function, Status: raw.Status, Started: raw.StartDate, Done: raw.DoneDate, LastUpdate: raw.LastUpdate}
	if raw.Comment != nil {
		t.Comment = *raw.Comment
	}
	return t, nil
}

// call performs one API operation. Reads are retried a few times on
// transient failures (5xx, 429, network); writes never are, because a
// retried POST that had in fact reached OVH would start a second task.
func (c *apiClient) call(ctx context.Context, op, method, path string, body, out any) error {
	attempts := 1
	if method == http.MethodGet {
		attempts = max(1, c.retry.Attempts)
	}
	delay := c.retry.BaseDelay
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := classify(op, c.do(ctx, method, path, body, out))
		metrics.ObserveCall("ovh", op, start, err)
		if err == nil || attempt >= attempts || !transient(err) || ctx.Err() != nil {
			return err
		}
		wait := delay
		if ra := retryAfter(err); ra > 0 {
			wait = ra
		}
		if wait > c.retry.MaxDelay || !sleep(ctx, wait) {
			return err
		}
		delay = min(2*delay, c.retry.MaxDelay)
	}
}

// maxResponse bounds what is read of an answer; OVH's largest answers here
// are IP lists.
const maxResponse = 8 << 20

func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	if err := c.budget.wait(ctx); err != nil {
		return err
	}
	if d, ok := ctx.Value(requestTimeoutKey{}).(time.Duration); ok && d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	c.signMu.Lock()
	req, err := c.api.NewRequest(method, path, body, true)
	c.signMu.Unlock()
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	resp.Body.Close()
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(raw))
	err = decodeResponse(c.api, resp, raw, out)
	if remote, ok := err.(*remoteError); ok {
		remote.method, remote.apiPath = method, path
	}
	return err
}

// decodeResponse turns an answer (its body already read into raw) into
// out, a *remoteError or a *decodeError.
func decodeResponse(api *govh.Client, resp *http.Response, raw []byte, out any) error {
	err := api.UnmarshalResponse(resp, out)
	if apiErr, isAPI := err.(*govh.APIError); isAPI {
		return newRemoteError(apiErr, resp, raw)
	}
	if err != nil {
		return &decodeError{err}
	}
	return nil
}

func serverPath(server string, parts ...string) string {
	p := "/dedicated/server/" + url.PathEscape(server)
	for _, s := range parts {
		p += "/" + url.PathEscape(s)
	}
	return p
}

func required(op, what, v string) error {
	if strings.TrimSpace(v) == "" {
		return cause.New(cause.Invalid, "ovh", op, what+" is empty", nil)
	}
	return nil
}

func blockArg(op, ip string) (string, error) {
	b, err := Block(ip)
	if err != nil {
		return "", cause.New(cause.Invalid, "ovh", op, fmt.Sprintf("%q is not an IP address or block", ip), err)
	}
	return b, nil
}

// addressArg takes "203.0.113.123" or "203.0.113.123/32" and returns the
// plain IPv4 address virtual MAC calls want.
func addressArg(op, ip string) (string, error) {
	s, _ := strings.CutSuffix(strings.TrimSpace(ip), "/32")
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return "", cause.New(cause.Invalid, "ovh", op, fmt.Sprintf("%q is not an IPv4 address", ip), err)
	}
	return a.String(), nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// canonicalIPv6 writes an IPv6 address the way iproute2 prints it (RFC 5952:
// OVH's guide notes the gateway may come with its leading zeros,
// 2607:5300:60:62ff:00ff:00ff:00ff:00ff), so that it compares equal to what
// a router reports; anything unparsable is kept as OVH sent it.
func canonicalIPv6(s string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || !a.Is6() || a.Is4In6() {
		return s
	}
	return a.String()
}

// canonicalIPv6Block is canonicalIPv6 for a block (network address, prefix
// length kept).
func canonicalIPv6Block(s string) string {
	p, err := netip.ParsePrefix(strings.TrimSpace(s))
	if err != nil || !p.Addr().Is6() {
		return s
	}
	return p.Masked().String()
}
