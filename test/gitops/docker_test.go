package gitops_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// There is no Docker engine here to build the image. These tests check
// what can be checked without one: the Dockerfile's stages and build
// command, and that .dockerignore lets in every file the build compiles.

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, COPY, ...
	args string
}

func parseDockerfile(t *testing.T, file string) []instruction {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if rest, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

// shellWords splits a command line as sh does for plain words and quotes.
func shellWords(s string) []string {
	var words []string
	var w strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		default:
			w.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words
}

// TestDockerfile: a golang builder of the go.mod's Go version builds the
// module root statically (no cgo, -trimpath, -s -w), and the image is
// distroless static nonroot running the binary as 65532.
func TestDockerfile(t *testing.T) {
	ins := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	var stages [][]instruction
	for _, in := range ins {
		if in.cmd == "FROM" {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s before the first FROM", in.cmd)
			}
			continue
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], in)
	}
	if len(stages) != 2 {
		t.Fatalf("%d stages, want a builder and the image", len(stages))
	}

	gomod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVersion == nil {
		t.Fatal("no go directive in go.mod")
	}
	from := strings.Fields(stages[0][0].args)
	if len(from) != 3 || from[0] != "golang:"+string(goVersion[1]) || !strings.EqualFold(from[1], "AS") {
		t.Fatalf("builder stage FROM %s, want golang:%s AS <name>", stages[0][0].args, goVersion[1])
	}
	builder := from[2]

	var out string
	for _, in := range stages[0] {
		words := shellWords(in.args)
		i := slices.Index(words, "go")
		if in.cmd != "RUN" || i < 0 || i+1 >= len(words) || words[i+1] != "build" {
			continue
		}
		env, build := words[:i], words[i+2:]
		if !slices.Contains(env, "CGO_ENABLED=0") {
			t.Errorf("go build runs without CGO_ENABLED=0: %v", env)
		}
		if !slices.Contains(build, "-trimpath") {
			t.Error("go build runs without -trimpath")
		}
		if j := slices.Index(build, "-ldflags"); j < 0 || j+1 == len(build) || build[j+1] != "-s -w" {
			t.Errorf(`go build runs without -ldflags "-s -w": %v`, build)
		}
		if j := slices.Index(build, "-o"); j >= 0 && j+1 < len(build) {
			out = build[j+1]
		}
		if build[len(build)-1] != "." {
			t.Errorf("go build builds %q, want the manager at the module root (.)", build[len(build)-1])
		}
	}
	if out == "" {
		t.Fatal("no `go build -o <binary>` in the builder stage")
	}

	image := stages[1]
	if image[0].args != "gcr.io/distroless/static:nonroot" {
		t.Errorf("image FROM %s, want gcr.io/distroless/static:nonroot", image[0].args)
	}
	var user, entrypoint string
	copied := false
	for _, in := range image[1:] {
		switch in.cmd {
		case "USER":
			user = in.args
		case "ENTRYPOINT":
			entrypoint = in.args
		case "COPY":
			words := strings.Fields(in.args)
			copied = copied || slices.Equal(words, []string{"--from=" + builder, out, "/manager"})
		case "RUN":
			t.Errorf("RUN in the distroless stage (it has no shell): %s", in.args)
		}
	}
	if !copied {
		t.Errorf("the image does not COPY --from=%s %s /manager", builder, out)
	}
	if user != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532 (distroless nonroot)", user)
	}
	var ep []string
	if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || !slices.Equal(ep, []string{"/manager"}) {
		t.Errorf(`ENTRYPOINT %s, want ["/manager"] (exec form)`, entrypoint)
	}
}

// dockerignored says whether .dockerignore keeps a file out of the build
// context: patterns match the path or one of its parent directories, "!"
// lets a match back in, and the last matching pattern decides.
func dockerignored(patterns []string, file string) bool {
	ignored := false
	for _, p := range patterns {
		negate := strings.HasPrefix(p, "!")
		p = path.Clean(strings.TrimPrefix(p, "!"))
		for dir := file; dir != "."; dir = path.Dir(dir) {
			if ok, _ := path.Match(p, dir); ok {
				ignored = !negate
				break
			}
		}
	}
	return ignored
}

// TestDockerignoreKeepsTheBuildInputs: every Go file `go build .` compiles
// from this module, and go.mod/go.sum, reach the build context; tests,
// tools and local binaries do not.
func TestDockerignoreKeepsTheBuildInputs(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}

	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{end}}{{end}}`, ".")
	cmd.Dir = repoRoot
	list, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{"go.mod", "go.sum"}
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		fields := strings.Fields(line)
		dir, err := filepath.Rel(root, fields[0])
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields[1:] {
			inputs = append(inputs, filepath.ToSlash(filepath.Join(dir, f)))
		}
	}
	if !slices.Contains(inputs, "main.go") || !slices.ContainsFunc(inputs, func(f string) bool { return strings.HasPrefix(f, "controllers/") }) {
		t.Fatalf("go list found no manager sources: %v", inputs)
	}
	for _, f := range inputs {
		if dockerignored(patterns, f) {
			t.Errorf(".dockerignore keeps %s, which the build needs, out of the context", f)
		}
	}
	for _, f := range []string{"bin/controller-gen", "test/gitops/docker_test.go", ".git/HEAD", "hack/envtest-assets.sh", "config/samples/secrets.yaml"} {
		if !dockerignored(patterns, f) {
			t.Errorf(".dockerignore sends %s to the build context", f)
		}
	}
}
