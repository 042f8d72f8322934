package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// profileTop is one `go tool pprof -top` listing, cut to ten lines.
type profileTop struct {
	Title string
	Total string // pprof's own line: "Duration: 1m, Total samples = ..." or "... of 6885MB total"
	Rows  []profileRow
}

type profileRow struct{ Flat, FlatPct, Cum, CumPct, Name string }

// summarise lists, from the profiles of a scale run, the ten functions
// with the most CPU time of their own, the ten of the operator's own code
// (and what they call) with the most in all, the same at steady state, and
// the ten allocating the most.
func (e *env) summarise(sz size, latency time.Duration) []profileTop {
	file := func(kind string) string { return filepath.Join(e.profDir, profileName(kind, sz, latency)+".pprof") }
	own := "-show_from=ovhbridge-operator/(controllers|internal)"
	var out []profileTop
	for _, p := range []struct {
		title, file string
		args        []string
	}{
		{"CPU from the apply, functions by own time", file("cpu"), nil},
		{"CPU from the apply, the operator's code by cumulative time", file("cpu"), []string{"-cum", own}},
		{"CPU at steady state, functions by own time", file("cpu-steady"), nil},
		{"CPU at steady state, the operator's code by cumulative time", file("cpu-steady"), []string{"-cum", own}},
		{"allocations from the operator's start to all Ready, by bytes allocated", file("heap"), []string{"-sample_index=alloc_space"}},
	} {
		if _, err := os.Stat(p.file); err != nil {
			continue
		}
		t, err := top(e.b.operator, p.file, p.args...)
		if err != nil {
			e.b.logf("profile summary %s: %v", p.title, err)
			continue
		}
		t.Title = p.title
		out = append(out, t)
	}
	return out
}

// top runs go tool pprof -top on a profile and parses its ten rows.
func top(binary, file string, args ...string) (profileTop, error) {
	argv := append([]string{"tool", "pprof", "-top", "-nodecount=10"}, args...)
	out, err := exec.Command("go", append(argv, binary, file)...).Output()
	if err != nil {
		return profileTop{}, fmt.Errorf("go tool pprof: %w", err)
	}
	var t profileTop
	rows := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "Duration:") || strings.HasPrefix(line, "Showing nodes accounting"):
			if t.Total == "" || strings.HasPrefix(line, "Duration:") {
				t.Total = strings.TrimSpace(line)
			}
		case strings.Contains(line, "flat%") && strings.Contains(line, "cum%"):
			rows = true
		case rows:
			f := strings.Fields(line)
			if len(f) < 6 {
				continue
			}
			name := strings.Join(f[5:], " ")
			name = strings.ReplaceAll(name, "github.com/ovhbridge/ovhbridge-operator/", "")
			t.Rows = append(t.Rows, profileRow{Flat: f[0], FlatPct: f[1], Cum: f[3], CumPct: f[4], Name: name})
		}
	}
	return t, nil
}

// renderProfiles writes the summaries of the 10× run.
func (r *results) renderProfiles(w func(string, ...any)) {
	for _, s := range r.scale {
		if len(s.Profiles) == 0 {
			continue
		}
		w("\n## Where the time goes (%s, profiles of the operator)\n\n", s.Size.Name)
		w("`go tool pprof -top` of the profiles the bench takes of the %s run: CPU from the start of the apply for %s, CPU over the steady-state window, and the heap profile's allocations when all were Ready. Each list is pprof's ten first rows.\n",
			s.Size.Name, r.bench.profileSeconds)
		for _, p := range s.Profiles {
			w("\n**%s** (%s)\n\n| flat | flat%% | cum | cum%% | function |\n|---|---|---|---|---|\n", p.Title, p.Total)
			for _, row := range p.Rows {
				w("| %s | %s | %s | %s | `%s` |\n", row.Flat, row.FlatPct, row.Cum, row.CumPct, row.Name)
			}
		}
	}
}
