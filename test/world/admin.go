package world

import (
	"encoding/json"
	"net/http"
	"strings"

	routersim "github.com/ovhbridge/ovhbridge-operator/test/sim/router"
)

// routerAdmin is a small HTTP surface over the simulated router, so that a
// person playing with `make demo KEEP=1` can break it from a shell:
//
//	POST /traffic?dst=192.0.2.1&dst=...   the router sends to these hosts
//	POST /route/delete?dst=default         delete a kernel route
//	POST /bootscript/delete                delete the post-config boot script
//	POST /reboot                           reboot (unsaved config is lost)
//	GET  /state                            routes, neighbours, boot script
func routerAdmin(r *routersim.Router) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /traffic", func(w http.ResponseWriter, req *http.Request) {
		answer(w, nil, r.InjectTraffic(req.URL.Query()["dst"]...))
	})
	mux.HandleFunc("POST /route/delete", func(w http.ResponseWriter, req *http.Request) {
		answer(w, map[string]bool{"deleted": r.DeleteRoute(req.URL.Query().Get("dst"))}, nil)
	})
	mux.HandleFunc("POST /bootscript/delete", func(w http.ResponseWriter, _ *http.Request) {
		r.DeleteBootScript()
		answer(w, nil, nil)
	})
	mux.HandleFunc("POST /reboot", func(w http.ResponseWriter, _ *http.Request) { answer(w, nil, r.Reboot()) })
	mux.HandleFunc("GET /state", func(w http.ResponseWriter, _ *http.Request) {
		script, exists, executable := r.BootScript()
		answer(w, map[string]any{
			"routes": strings.Split(strings.TrimSpace(r.RoutesText()), "\n"), "neighbours": r.Neighbours(""),
			"bootScript": map[string]any{"exists": exists, "executable": executable, "content": script},
			"config":     strings.Split(strings.TrimSpace(r.ActiveCommands()), "\n"),
		}, nil)
	})
	return mux
}

func answer(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
		return
	}
	if v == nil {
		v = map[string]bool{"ok": true}
	}
	_ = json.NewEncoder(w).Encode(v)
}
