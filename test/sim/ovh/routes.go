package ovhsim

import (
	"net/url"
	"strings"
)

// Route keys, as used by call counters, faults and holds: the method and
// OVH's path template, without the /1.0 or /v1 base.
const (
	RouteAuthTime       = "GET /auth/time"
	RouteAuthCredential = "POST /auth/credential"
	RouteIPList         = "GET /ip"
	RouteIP             = "GET /ip/{ip}"
	RouteIPMove         = "POST /ip/{ip}/move"
	RouteIPTaskList     = "GET /ip/{ip}/task"
	RouteIPTask         = "GET /ip/{ip}/task/{taskId}"
	RouteReverseList    = "GET /ip/{ip}/reverse"
	RouteReverseCreate  = "POST /ip/{ip}/reverse"
	RouteReverse        = "GET /ip/{ip}/reverse/{ipReverse}"
	RouteReverseDelete  = "DELETE /ip/{ip}/reverse/{ipReverse}"
	RouteServerList     = "GET /dedicated/server"
	RouteServer         = "GET /dedicated/server/{serviceName}"
	RouteServerIPs      = "GET /dedicated/server/{serviceName}/ips"
	RouteServerNetwork  = "GET /dedicated/server/{serviceName}/specifications/network"
	RouteServerTaskList = "GET /dedicated/server/{serviceName}/task"
	RouteServerTask     = "GET /dedicated/server/{serviceName}/task/{taskId}"
	RouteVMACList       = "GET /dedicated/server/{serviceName}/virtualMac"
	RouteVMACCreate     = "POST /dedicated/server/{serviceName}/virtualMac"
	RouteVMAC           = "GET /dedicated/server/{serviceName}/virtualMac/{macAddress}"
	RouteVMACAddresses  = "GET /dedicated/server/{serviceName}/virtualMac/{macAddress}/virtualAddress"
	RouteVMACBind       = "POST /dedicated/server/{serviceName}/virtualMac/{macAddress}/virtualAddress"
	RouteVMACAddress    = "GET /dedicated/server/{serviceName}/virtualMac/{macAddress}/virtualAddress/{ipAddress}"
	RouteVMACUnbind     = "DELETE /dedicated/server/{serviceName}/virtualMac/{macAddress}/virtualAddress/{ipAddress}"
)

// capability names what a product line must offer for a route to exist.
type capability int

const (
	always capability = iota
	needsVirtualMAC
	needsMove
)

type route struct {
	key    string
	method string
	segs   []string
	auth   bool
	needs  capability
	handle func(*Server, *call) reply
}

func (rt *route) availableIn(p Profile) bool { return p != ProfileKimsufi || rt.needs == always }

func newRoute(key string, needs capability, h func(*Server, *call) reply) *route {
	method, tmpl, _ := strings.Cut(key, " ")
	return &route{
		key: key, method: method, segs: strings.Split(strings.TrimPrefix(tmpl, "/"), "/"),
		auth: key != RouteAuthTime && key != RouteAuthCredential, needs: needs, handle: h,
	}
}

var routes = []*route{
	newRoute(RouteAuthTime, always, (*Server).authTime),
	newRoute(RouteAuthCredential, always, (*Server).requestCredential),
	newRoute(RouteIPList, always, (*Server).listIPs),
	newRoute(RouteIP, always, (*Server).getIP),
	newRoute(RouteIPMove, needsMove, (*Server).moveIP),
	newRoute(RouteIPTaskList, always, (*Server).listIPTasks),
	newRoute(RouteIPTask, always, (*Server).getIPTask),
	newRoute(RouteReverseList, always, (*Server).listReverses),
	newRoute(RouteReverseCreate, always, (*Server).createReverse),
	newRoute(RouteReverse, always, (*Server).getReverse),
	newRoute(RouteReverseDelete, always, (*Server).deleteReverse),
	newRoute(RouteServerList, always, (*Server).listServers),
	newRoute(RouteServer, always, (*Server).getServer),
	newRoute(RouteServerIPs, always, (*Server).serverIPs),
	newRoute(RouteServerNetwork, always, (*Server).serverNetwork),
	newRoute(RouteServerTaskList, always, (*Server).listServerTasks),
	newRoute(RouteServerTask, always, (*Server).getServerTask),
	newRoute(RouteVMACList, needsVirtualMAC, (*Server).listVMACs),
	newRoute(RouteVMACCreate, needsVirtualMAC, (*Server).createVMAC),
	newRoute(RouteVMAC, needsVirtualMAC, (*Server).getVMAC),
	newRoute(RouteVMACAddresses, needsVirtualMAC, (*Server).listVMACAddresses),
	newRoute(RouteVMACBind, needsVirtualMAC, (*Server).bindVMAC),
	newRoute(RouteVMACAddress, needsVirtualMAC, (*Server).getVMACAddress),
	newRoute(RouteVMACUnbind, needsVirtualMAC, (*Server).unbindVMAC),
}

// match finds the route for an escaped path. Segments are unescaped one by
// one so that an IP block sent as 203.0.113.0%2F29 stays a single segment.
func match(method, escapedPath string) (*route, map[string]string) {
	raw := strings.Split(strings.Trim(escapedPath, "/"), "/")
	segs := make([]string, len(raw))
	for i, r := range raw {
		u, err := url.PathUnescape(r)
		if err != nil {
			return nil, nil
		}
		segs[i] = u
	}
next:
	for _, rt := range routes {
		if rt.method != method || len(rt.segs) != len(segs) {
			continue
		}
		params := map[string]string{}
		for i, t := range rt.segs {
			if strings.HasPrefix(t, "{") {
				params[strings.Trim(t, "{}")] = segs[i]
			} else if t != segs[i] {
				continue next
			}
		}
		return rt, params
	}
	return nil, nil
}
