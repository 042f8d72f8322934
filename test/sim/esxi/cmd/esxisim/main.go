// Command esxisim serves the ESXi stand-in (package esxisim) until it is
// interrupted: a standalone ESXi (or, with -vcenter, a vCenter) with port
// groups LAN and WAN and the seed's VMs vyatta and web1.
//
// It prints, or writes to -out (mode 0600), a JSON document with what a
// Secret for it needs and where its admin API listens:
//
//	{"url": "https://127.0.0.1:8989/sdk", "username": "root", "password": "...",
//	 "thumbprint": "AB:CD:...", "caPEM": "-----BEGIN CERTIFICATE-----...",
//	 "datacenter": "ha-datacenter", "adminURL": "http://127.0.0.1:8990",
//	 "secret": {"url": "...", "username": "...", "password": "...", "thumbprint": "..."}}
//
// Out-of-band changes for a demo, as a person in the vSphere client would
// make them (see esxisim.Harness.AdminHandler for the whole API):
//
//	curl -X PUT -d '{"on": false}' $ADMIN/vms/web1/power
//	curl -X PUT -d '{"mac": "02:00:00:aa:bb:cc"}' $ADMIN/vms/web1/nics/1
//
// and inside a guest, as a person logged into it would (VMware Tools report
// each change):
//
//	curl -X DELETE $ADMIN/vms/web1/guest/routes/198.51.100.254
//	curl -X POST $ADMIN/vms/web1/guest/reboot
//	curl -X PUT -d '{"running": false}' $ADMIN/vms/web1/guest/tools
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	esxisim "github.com/ovhbridge/ovhbridge-operator/test/sim/esxi"
)

type endpoint struct {
	URL        string            `json:"url"`
	Username   string            `json:"username"`
	Password   string            `json:"password"`
	Thumbprint string            `json:"thumbprint"`
	CAPEM      string            `json:"caPEM"`
	Datacenter string            `json:"datacenter"`
	AdminURL   string            `json:"adminURL,omitempty"`
	Secret     map[string]string `json:"secret"`
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8989", "SDK listen address (https)")
	adminListen := flag.String("admin-listen", "127.0.0.1:8990", "admin API listen address (http, no auth; keep it on loopback); empty disables it")
	vcenter := flag.Bool("vcenter", false, "model a vCenter (datacenter DC0) instead of a standalone ESXi")
	poweredOn := flag.Bool("powered-on", false, "power the seed VMs on")
	username := flag.String("username", "root", "accepted user name")
	password := flag.String("password", os.Getenv("ESXISIM_PASSWORD"), "accepted password (default: $ESXISIM_PASSWORD, else random)")
	extraVMs := flag.Int("extra-vms", 0, "add that many one-NIC VMs on LAN (vm-0001...)")
	sessionTimeout := flag.Duration("session-timeout", 0, "idle timeout of client sessions (0: never)")
	out := flag.String("out", "", "write the endpoint JSON to this file instead of stdout")
	flag.Parse()

	h, err := esxisim.Start(esxisim.Options{
		VCenter:   *vcenter,
		Addr:      *listen,
		Username:  *username,
		Password:  *password,
		PoweredOn: *poweredOn,
		ExtraVMs:  *extraVMs,
	})
	if err != nil {
		log.Fatal(err)
	}
	if *sessionTimeout > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := h.SetSessionTimeout(ctx, *sessionTimeout)
		cancel()
		if err != nil {
			h.Close()
			log.Fatal(err)
		}
	}

	var admin *http.Server
	ep := endpoint{
		URL: h.URL.String(), Username: h.Username, Password: h.Password,
		Thumbprint: h.Thumbprint, CAPEM: string(h.CAPEM), Datacenter: h.Datacenter,
		Secret: map[string]string{},
	}
	for k, v := range h.SecretData() {
		ep.Secret[k] = string(v)
	}
	if *adminListen != "" {
		l, err := net.Listen("tcp", *adminListen)
		if err != nil {
			h.Close()
			log.Fatal(err)
		}
		admin = &http.Server{Handler: h.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := admin.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Print(err)
			}
		}()
		ep.AdminURL = "http://" + l.Addr().String()
	}
	if err := publish(ep, *out); err != nil {
		h.Close()
		log.Fatal(err)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	if admin != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = admin.Shutdown(ctx)
		cancel()
	}
	h.Close()
}

func publish(ep endpoint, path string) error {
	b, err := json.MarshalIndent(ep, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "" {
		_, err = os.Stdout.Write(b)
		return err
	}
	// Write then rename, so a reader polling for the file never sees half.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("publish endpoint: %w", err)
	}
	return nil
}
