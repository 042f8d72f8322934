package esxisim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// AdminHandler serves a small JSON API to act on the harness from outside
// the process (the demo, a shell), every change going through the harness's
// own vSphere session like the Go helpers:
//
//	GET    /vms/{vm}                      power state and NICs
//	PUT    /vms/{vm}/nics/{nic}           {"mac": "02:00:00:..", "portGroup": "WAN"}; nic is a label or a 1-based number
//	PUT    /vms/{vm}/power                {"on": true}
//	PUT    /vms/{vm}/name                 {"name": "web2"}
//	PUT    /vms/{vm}/guest                {"toolsRunning": true, "nics": [...], "routes": [...]} (a raw Tools report)
//	GET    /vms/{vm}/guest/state          the guest model: Tools, boot and running network
//	PUT    /vms/{vm}/guest/network        {"interfaces": [{"nic": 0, "addresses": ["203.0.113.124/32"]}], "routes": [...]}
//	PUT    /vms/{vm}/guest/boot-network   the same, for the configuration the guest boots with
//	POST   /vms/{vm}/guest/routes         {"destination": "198.51.100.254", "nic": 0} (ip route add)
//	DELETE /vms/{vm}/guest/routes/{dst}   ip route del; dst "default" (IPv4's), "::_0" (IPv6's), an address or a.b.c.d_len for a prefix
//	POST   /vms/{vm}/guest/reboot         the guest reboots into its boot configuration
//	PUT    /vms/{vm}/guest/tools          {"running": false}
//	POST   /sessions/expire               ends every client session
//	GET    /calls, DELETE /calls          SOAP call counters
//
// It has no authentication: serve it on loopback only.
func (h *Harness) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /vms/{vm}", func(w http.ResponseWriter, r *http.Request) {
		st, err := h.VM(r.Context(), r.PathValue("vm"))
		reply(w, st, err)
	})
	mux.HandleFunc("PUT /vms/{vm}/nics/{nic}", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			MAC       string `json:"mac"`
			PortGroup string `json:"portGroup"`
		}
		if !decode(w, r, &body) {
			return
		}
		vm, label := r.PathValue("vm"), nicLabel(r.PathValue("nic"))
		var err error
		if body.PortGroup != "" {
			err = h.SetNICPortGroup(r.Context(), vm, label, body.PortGroup)
		}
		if err == nil && body.MAC != "" {
			err = h.SetNICMAC(r.Context(), vm, label, body.MAC)
		}
		h.replyVM(w, r, vm, err)
	})
	mux.HandleFunc("PUT /vms/{vm}/power", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			On bool `json:"on"`
		}
		if !decode(w, r, &body) {
			return
		}
		vm := r.PathValue("vm")
		h.replyVM(w, r, vm, h.SetPower(r.Context(), vm, body.On))
	})
	mux.HandleFunc("PUT /vms/{vm}/name", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Name string `json:"name"`
		}
		if !decode(w, r, &body) {
			return
		}
		h.replyVM(w, r, body.Name, h.RenameVM(r.Context(), r.PathValue("vm"), body.Name))
	})
	mux.HandleFunc("PUT /vms/{vm}/guest", func(w http.ResponseWriter, r *http.Request) {
		var g Guest
		if !decode(w, r, &g) {
			return
		}
		vm := r.PathValue("vm")
		h.replyVM(w, r, vm, h.SetGuest(vm, g))
	})
	mux.HandleFunc("GET /vms/{vm}/guest/state", func(w http.ResponseWriter, r *http.Request) {
		st, err := h.GuestState(r.PathValue("vm"))
		reply(w, st, err)
	})
	guestNetwork := func(set func(string, GuestNetwork) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var n GuestNetwork
			if !decode(w, r, &n) {
				return
			}
			h.replyGuest(w, r.PathValue("vm"), set(r.PathValue("vm"), n))
		}
	}
	mux.HandleFunc("PUT /vms/{vm}/guest/network", guestNetwork(h.SetGuestNetwork))
	mux.HandleFunc("PUT /vms/{vm}/guest/boot-network", guestNetwork(h.SetGuestBootNetwork))
	mux.HandleFunc("POST /vms/{vm}/guest/routes", func(w http.ResponseWriter, r *http.Request) {
		var rt GuestIPRoute
		if !decode(w, r, &rt) {
			return
		}
		h.replyGuest(w, r.PathValue("vm"), h.AddGuestRoute(r.PathValue("vm"), rt))
	})
	mux.HandleFunc("DELETE /vms/{vm}/guest/routes/{dst}", func(w http.ResponseWriter, r *http.Request) {
		// A prefix's slash cannot sit in a path segment: 10.0.0.0_8.
		dst := strings.Replace(r.PathValue("dst"), "_", "/", 1)
		h.replyGuest(w, r.PathValue("vm"), h.DeleteGuestRoute(r.PathValue("vm"), dst))
	})
	mux.HandleFunc("POST /vms/{vm}/guest/reboot", func(w http.ResponseWriter, r *http.Request) {
		h.replyGuest(w, r.PathValue("vm"), h.RebootGuest(r.PathValue("vm")))
	})
	mux.HandleFunc("PUT /vms/{vm}/guest/tools", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Running bool `json:"running"`
		}
		if !decode(w, r, &body) {
			return
		}
		h.replyGuest(w, r.PathValue("vm"), h.SetTools(r.PathValue("vm"), body.Running))
	})
	mux.HandleFunc("POST /sessions/expire", func(w http.ResponseWriter, r *http.Request) {
		n, err := h.ExpireSessions(r.Context())
		reply(w, map[string]int{"expired": n}, err)
	})
	mux.HandleFunc("GET /calls", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, h.Calls(), nil)
	})
	mux.HandleFunc("DELETE /calls", func(w http.ResponseWriter, _ *http.Request) {
		h.ResetCalls()
		w.WriteHeader(http.StatusNoContent)
	})
	return mux
}

// nicLabel lets "2" stand for ESXi's "Network adapter 2".
func nicLabel(s string) string {
	if n, err := strconv.Atoi(s); err == nil {
		return fmt.Sprintf("Network adapter %d", n)
	}
	return s
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func (h *Harness) replyVM(w http.ResponseWriter, r *http.Request, vm string, err error) {
	if err != nil {
		reply(w, nil, err)
		return
	}
	st, err := h.VM(r.Context(), vm)
	reply(w, st, err)
}

func (h *Harness) replyGuest(w http.ResponseWriter, vm string, err error) {
	if err != nil {
		reply(w, nil, err)
		return
	}
	st, err := h.GuestState(vm)
	reply(w, st, err)
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusConflict)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	_ = json.NewEncoder(w).Encode(v)
}
