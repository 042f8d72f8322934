// Command routersim runs one simulated Vyatta / VyOS router (SSH and, on
// VyOS profiles, the HTTPS API) until interrupted, for demos and manual
// testing of the operator:
//
//	routersim -profile vyatta-6.5 -seed seed.boot -ssh-port 2222
//
// It prints the addresses, the host key line for the Secret's hostKey, and
// writes the HTTPS CA to -ca-out. As root, -netns NAME puts the router's
// routes, neighbours and `ip` commands on the real kernel, in namespaces
// named after NAME that it creates and removes (routersim.Options.Netns).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

func main() {
	profile := flag.String("profile", string(routersim.VyOS14), "vyatta-6.5, vyos-1.3, vyos-1.4 or vyos-1.5")
	addr := flag.String("addr", "127.0.0.1", "listen address")
	sshPort := flag.String("ssh-port", "0", "SSH port (0: any)")
	httpsPort := flag.String("https-port", "0", "HTTPS API port (0: any; VyOS only)")
	seed := flag.String("seed", "", "file with the initial configuration (config.boot or set commands)")
	user := flag.String("user", "", "SSH user (default vyos, or vyatta on Vyatta)")
	password := flag.String("password", "", "SSH password (default same as user)")
	apiKey := flag.String("api-key", "", "HTTP API key of the default configuration")
	caOut := flag.String("ca-out", "", "write the HTTPS CA certificate (PEM) here")
	netnsName := flag.String("netns", "", "run on the real kernel in network namespaces named after this (needs root)")
	flag.Parse()

	opts := routersim.Options{Addr: *addr, Username: *user, Password: *password, APIKey: *apiKey, Netns: *netnsName}
	if *user != "" && *password == "" {
		opts.Password = *user
	}
	if *seed != "" {
		b, err := os.ReadFile(*seed)
		if err != nil {
			log.Fatal(err)
		}
		opts.Seed = string(b)
	}
	r, err := routersim.New(routersim.Profile(*profile), opts)
	if err != nil {
		log.Fatal(err)
	}
	if err := r.StartOn(*sshPort, *httpsPort); err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	fmt.Printf("profile:  %s (%s)\n", r.Profile(), r.Version())
	fmt.Printf("ssh:      %s (user %s)\n", r.SSHAddr(), r.Username())
	fmt.Printf("hostKey:  %s\n", r.HostKeyLine())
	if rt, gw, ok := r.Kernel(); ok {
		fmt.Printf("netns:    %s (router), %s (OVH's gateway)\n", rt, gw)
	}
	if u := r.APIURL(); u != "" {
		fmt.Printf("api:      %s (key %s)\n", u, r.APIKey())
		if *caOut != "" {
			if err := os.WriteFile(*caOut, r.CACertPEM(), 0o644); err != nil {
				r.Close()
				log.Fatal(err) //nolint:gocritic // closed just above
			}
			fmt.Printf("ca.crt:   %s\n", *caOut)
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}
