// Package router talks to the Vyatta / VyOS router VM that bridges the LAN to
// the OVH failover IP. It hides two transports behind one narrow Driver
// interface — SSH (every platform) and the VyOS HTTP API (VyOS 1.3+) — and
// holds the pure pieces the RouterConfig controller builds on: the
// per-platform renderer of the owned configuration, the diff that turns
// observed into desired as ONE transaction, and parsers for everything the
// routers print (ip route/neigh in JSON and text, /proc/net/arp, both `show
// arp` formats, set-command lines, curly config.boot and /retrieve JSON).
//
// The package exists because of one incident: on Vyatta 6.5 the configuration
// that looks right (an interface-route to the OVH gateway plus
// gateway-address) makes Quagga install a default route without a gateway,
// the kernel then ARPs for every destination and OVH complains about the ARP
// flood. Detecting that needs kernel-level observation (routes, neighbours),
// and fixing it on Vyatta needs a boot script, which is why the Driver exposes
// more than configuration sessions.
//
// Every error returned to a caller is a *cause.Error whose Kind tells the
// controller what to do; no error text ever contains a password, key or token.
package router
