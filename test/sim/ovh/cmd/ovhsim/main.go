// Command ovhsim serves the OVH API simulator over HTTP for demos and
// end-to-end tests. It prints its API endpoint on the first line of stdout
// ("ovhsim listening on http://127.0.0.1:PORT/1.0") so a caller that passed
// -listen 127.0.0.1:0 can learn the port.
//
//	ovhsim -config world.yaml -listen 127.0.0.1:8443 -move-duration 60s
//
// The admin surface is under /_sim/ (calls, faults, clock, world changes).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	ovhsim "github.com/ovhbridge/ovhbridge-operator/test/sim/ovh"
)

func main() {
	var (
		config       = flag.String("config", "", "YAML world (servers, ips, virtualMacs, reverses, dns, applications, accessTokens)")
		listen       = flag.String("listen", "127.0.0.1:8480", "address to listen on")
		profile      = flag.String("profile", "ovh", "product line: ovh or kimsufi (no virtual MAC or move routes)")
		moveDuration = flag.Duration("move-duration", time.Minute, "how long an IP move task takes")
		vmacDuration = flag.Duration("vmac-duration", 20*time.Second, "how long virtual MAC tasks take")
		listedEarly  = flag.Bool("list-vmac-before-done", false, "list a virtual MAC as soon as its creation is requested")
		manualClock  = flag.Bool("manual-clock", false, "tasks only advance through POST /_sim/clock/advance")
		retention    = flag.Duration("task-retention", 0, "purge finished tasks after this long (0: never)")
		vmacTasks    = flag.String("vmac-task-functions", "", "task functions of vMAC create,bind,unbind, e.g. addVirtualMac,addVirtualMac,removeVirtualMac (default virtualMacAdd,virtualMacAdd,virtualMacDelete)")
		inBlock      = flag.String("address-in-block", "notFound", "GET /ip/{ip} of an address inside a wider block: notFound or block")
	)
	flag.Parse()

	opts := ovhsim.Options{
		Profile:                  ovhsim.Profile(*profile),
		Addr:                     *listen,
		MoveDuration:             *moveDuration,
		VirtualMACDuration:       *vmacDuration,
		ListVirtualMACBeforeDone: *listedEarly,
		TaskRetention:            *retention,
		AddressInBlock:           ovhsim.AddressInBlock(*inBlock),
	}
	if *vmacTasks != "" {
		names := strings.Split(*vmacTasks, ",")
		if len(names) != 3 {
			log.Fatalf("-vmac-task-functions wants three names, got %q", *vmacTasks)
		}
		opts.TaskFunctions = ovhsim.TaskFunctions{CreateVirtualMAC: names[0], BindIP: names[1], UnbindIP: names[2]}
	}
	if *manualClock {
		opts.Clock = ovhsim.NewManualClock(time.Now())
	}
	if *config != "" {
		w, err := ovhsim.LoadWorld(*config)
		if err != nil {
			log.Fatal(err)
		}
		opts.World = w
	}
	sim, err := ovhsim.New(opts)
	if err != nil {
		log.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ovhsim listening on %s\n", sim.Endpoint())

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	<-stop
	sim.Close()
}
