package routersim

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// cnode is one node of a configuration tree. For a plain node kids are its
// children by name; for a tag node kids are its values; for leaves vals holds
// the value(s).
type cnode struct {
	kids map[string]*cnode
	vals []string
}

func newNode() *cnode { return &cnode{kids: map[string]*cnode{}} }

func (n *cnode) clone() *cnode {
	c := &cnode{kids: make(map[string]*cnode, len(n.kids)), vals: append([]string(nil), n.vals...)}
	for k, v := range n.kids {
		c.kids[k] = v.clone()
	}
	return c
}

func (n *cnode) child(name string) *cnode {
	c, ok := n.kids[name]
	if !ok {
		c = newNode()
		n.kids[name] = c
	}
	return c
}

// tree is a configuration (working, active) checked against the profile's
// templates.
type tree struct {
	schema *snode
	root   *cnode
	// normaliseNAT reproduces VyOS 1.4's storing NAT prefixes in network form.
	normaliseNAT bool
}

func (t *tree) clone() *tree {
	return &tree{schema: t.schema, root: t.root.clone(), normaliseNAT: t.normaliseNAT}
}

// set adds one statement; the error is the text the CLI prints.
func (t *tree) set(path []string) error {
	s, n := t.schema, t.root
	for i := 0; i < len(path); {
		cs, ok := s.kids[path[i]]
		if !ok {
			return fmt.Errorf("%s", pathError(path[:i+1]))
		}
		switch cs.kind {
		case sNode:
			n = n.child(path[i])
			s = cs
			i++
		case sTag:
			if i+1 >= len(path) {
				return fmt.Errorf("\n  The specified configuration node requires a value\n")
			}
			if !validValue(cs.typ, path[i+1]) {
				return fmt.Errorf("\n  Value validation failed\n")
			}
			n = n.child(path[i]).child(path[i+1])
			s = cs
			i += 2
		case sLeaf, sMulti:
			if i+1 >= len(path) {
				return fmt.Errorf("\n  The specified configuration node requires a value\n")
			}
			if i+2 != len(path) {
				return fmt.Errorf("%s", pathError(path))
			}
			v := path[i+1]
			if !validValue(cs.typ, v) {
				return fmt.Errorf("\n  Value validation failed\n")
			}
			if t.normaliseNAT && path[0] == "nat" && cs.name == "address" && strings.Contains(v, "/") {
				if p, err := netip.ParsePrefix(strings.TrimPrefix(v, "!")); err == nil {
					v = strings.Repeat("!", len(v)-len(strings.TrimPrefix(v, "!"))) + p.Masked().String()
				}
			}
			leaf := n.child(path[i])
			if cs.kind == sLeaf {
				leaf.vals = []string{v}
			} else if !contains(leaf.vals, v) {
				leaf.vals = append(leaf.vals, v)
			}
			return nil
		case sFlag:
			if i+1 != len(path) {
				return fmt.Errorf("%s", pathError(path))
			}
			n.child(path[i])
			return nil
		}
	}
	return nil
}

// del removes one statement or subtree. It reports false when nothing
// matched ("Nothing to delete", which the CLI treats as success), and an
// error for paths the templates do not know.
func (t *tree) del(path []string) (bool, error) {
	type step struct {
		parent *cnode
		key    string
		s      *snode
		tag    bool // key is a tag value under parent (a tag node)
	}
	var steps []step
	s, n := t.schema, t.root
	for i := 0; i < len(path); {
		cs, ok := s.kids[path[i]]
		if !ok {
			return false, fmt.Errorf("%s", pathError(path[:i+1]))
		}
		c, ok := n.kids[path[i]]
		if !ok {
			return false, nil
		}
		steps = append(steps, step{n, path[i], cs, false})
		switch cs.kind {
		case sNode:
			n, s = c, cs
			i++
		case sTag:
			if i+1 == len(path) {
				i++
				continue
			}
			v, ok := c.kids[path[i+1]]
			if !ok {
				return false, nil
			}
			steps = append(steps, step{c, path[i+1], cs, true})
			n, s = v, cs
			i += 2
		case sLeaf, sMulti:
			if i+1 == len(path) {
				i++
				continue
			}
			if i+2 != len(path) {
				return false, fmt.Errorf("%s", pathError(path))
			}
			idx := index(c.vals, path[i+1])
			if idx < 0 {
				return false, nil
			}
			c.vals = append(c.vals[:idx], c.vals[idx+1:]...)
			if len(c.vals) > 0 {
				return true, nil
			}
			i += 2
		case sFlag:
			if i+1 != len(path) {
				return false, fmt.Errorf("%s", pathError(path))
			}
			i++
		}
	}
	if len(steps) == 0 {
		return false, nil
	}
	last := steps[len(steps)-1]
	delete(last.parent.kids, last.key)
	// Ancestors emptied by this delete go too, as the CLI shows them gone.
	for k := len(steps) - 2; k >= 0; k-- {
		st := steps[k]
		node := st.parent.kids[st.key]
		if node == nil || len(node.kids) > 0 || len(node.vals) > 0 {
			break
		}
		if st.tag {
			// an emptied tag value stays only if it was the target
			break
		}
		delete(st.parent.kids, st.key)
	}
	return true, nil
}

// stmt is one flattened statement; value >= 0 marks the word that is a leaf
// value (quoted in set-command output).
type stmt struct {
	words []string
	value int
}

func (t *tree) statements() []stmt {
	var out []stmt
	flatten(t.root, t.schema, nil, &out)
	return out
}

func flatten(n *cnode, s *snode, prefix []string, out *[]stmt) {
	for _, name := range sortedKeys(n.kids, false) {
		c, cs := n.kids[name], s.kids[name]
		if cs == nil {
			continue
		}
		at := append(append([]string{}, prefix...), name)
		switch cs.kind {
		case sNode:
			if len(c.kids) == 0 {
				*out = append(*out, stmt{at, -1})
				continue
			}
			flatten(c, cs, at, out)
		case sTag:
			for _, v := range sortedKeys(c.kids, true) {
				vn := c.kids[v]
				tv := append(append([]string{}, at...), v)
				if len(vn.kids) == 0 {
					*out = append(*out, stmt{tv, -1})
					continue
				}
				flatten(vn, cs, tv, out)
			}
		case sLeaf, sMulti:
			for _, v := range c.vals {
				*out = append(*out, stmt{append(append([]string{}, at...), v), len(at)})
			}
		case sFlag:
			*out = append(*out, stmt{at, -1})
		}
	}
}

// commands renders VyOS's `show configuration commands`, vyos1x-config
// src/config_tree.ml Renderer.render_commands (branch master): path words
// bare, the value in single quotes after Util.escape_string (src/util.ml:
// `"`, `\` and control characters escaped, `'` not). On a real router it is
// piped from `cli-shell-api showCfg` through vyos-config-to-commands
// (vyos-1x op-mode-definitions/show-configuration.xml.in); see
// showConfigCommands for that pipeline.
func (t *tree) commands() string {
	var b strings.Builder
	for _, st := range t.statements() {
		b.WriteString("set")
		for i, w := range st.words {
			b.WriteByte(' ')
			if i == st.value {
				b.WriteString("'" + escapeVyOS(w) + "'")
			} else {
				b.WriteString(w)
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// cliCommands renders `cli-shell-api showConfig --show-commands`: vyatta-cfg
// src/cnode/cnode-algorithm.cpp _print_cmds_list, the same on branches
// pacifica (Vyatta 6.5), equuleus, sagitta and current: "set", then every
// word of the path, node names included, as ` '%s'` — no escaping at all.
func (t *tree) cliCommands(prefix []string) string {
	var b strings.Builder
	for _, st := range t.statements() {
		if !hasPrefix(st.words, prefix) {
			continue
		}
		b.WriteString("set")
		for _, w := range st.words {
			b.WriteString(" '" + w + "'")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// bootDialect is who writes config.boot and `show configuration` text.
type bootDialect int

const (
	// pacifica: vyatta-cfg _print_value_str for leaf values, tag values
	// printed as they are (cnode-algorithm.cpp _diff_show_other, branch
	// pacifica).
	dialectPacifica bootDialect = iota
	// equuleus and later vyatta-cfg: as pacifica, but tag values holding
	// one of the characters that force quoting are double-quoted too.
	dialectVyattaCfg
	// vyos1x-config Renderer.render_config: every value double-quoted and
	// escaped, tag values bare. VyOS 1.4+ config.boot (vyos-1x
	// src/helpers/vyos-save-config.py, branch sagitta and current).
	dialectVyOS1x
)

// curly renders vyatta-cfg's `cli-shell-api showConfig` (op mode `show
// configuration`, and config.boot up to VyOS 1.3).
func (t *tree) curly(d bootDialect) string {
	var b strings.Builder
	writeCurly(&b, t.root, t.schema, 0, d)
	return b.String()
}

func writeCurly(b *strings.Builder, n *cnode, s *snode, depth int, d bootDialect) {
	ind := strings.Repeat("    ", depth)
	for _, name := range sortedKeys(n.kids, false) {
		c, cs := n.kids[name], s.kids[name]
		if cs == nil {
			continue
		}
		switch cs.kind {
		case sNode:
			b.WriteString(ind + name + " {\n")
			writeCurly(b, c, cs, depth+1, d)
			b.WriteString(ind + "}\n")
		case sTag:
			for _, v := range sortedKeys(c.kids, true) {
				b.WriteString(ind + name + " " + tagValueText(v, d) + " {\n")
				writeCurly(b, c.kids[v], cs, depth+1, d)
				b.WriteString(ind + "}\n")
			}
		case sLeaf, sMulti:
			for _, v := range c.vals {
				b.WriteString(ind + name + " " + leafValueText(v, d) + "\n")
			}
		case sFlag:
			b.WriteString(ind + name + "\n")
		}
	}
}

// vyattaCfgQuoteChars are the characters that make vyatta-cfg's
// _print_value_str put a value in double quotes (strcspn with
// "*}{;\011\012\013\014\015 ", cnode-algorithm.cpp, every branch).
const vyattaCfgQuoteChars = "*}{;\t\n\v\f\r "

func leafValueText(v string, d bootDialect) string {
	if v == hiddenSecret {
		return "****************"
	}
	if d == dialectVyOS1x {
		return `"` + escapeVyOS(v) + `"`
	}
	if v == "" || strings.ContainsAny(v, vyattaCfgQuoteChars) {
		return `"` + v + `"`
	}
	return v
}

func tagValueText(v string, d bootDialect) string {
	if d == dialectVyattaCfg && strings.ContainsAny(v, vyattaCfgQuoteChars) {
		// no test for the empty value here (equuleus
		// cnode-algorithm.cpp, tag value branch of _diff_show_other)
		return `"` + v + `"`
	}
	return v
}

// escapeVyOS is vyos1x-config Util.escape_string (src/util.ml, master): `"`
// and `\` get a backslash, \n \t \r \b their letters, other control
// characters (and DEL) three decimal digits; bytes from 128 on (UTF-8) pass.
func escapeVyOS(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r == '"' || r == '\\' || r < 32 || r == 127 }) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\b':
			b.WriteString(`\b`)
		case c < 32 || c == 127:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// json renders the /retrieve showConfig shape of the subtree at path: one
// value as a string, several as a list, valueless nodes as {}, tag nodes as
// maps keyed by tag value. ok is false when there is nothing there.
func (t *tree) json(path []string) (any, bool) {
	s, n := t.schema, t.root
	for i := 0; i < len(path); i++ {
		cs, ok := s.kids[path[i]]
		if !ok {
			return nil, false
		}
		c, ok := n.kids[path[i]]
		if !ok {
			return nil, false
		}
		switch cs.kind {
		case sLeaf, sMulti, sFlag:
			if i != len(path)-1 {
				return nil, false
			}
			return map[string]any{path[i]: leafJSON(c, cs)}, true
		case sTag:
			if i+1 < len(path) {
				v, ok := c.kids[path[i+1]]
				if !ok {
					return nil, false
				}
				c = v
				i++
			} else {
				out := map[string]any{}
				for k, v := range c.kids {
					out[k] = nodeJSON(v, cs)
				}
				return out, len(out) > 0
			}
		}
		n, s = c, cs
	}
	out := nodeJSON(n, s)
	return out, len(out) > 0
}

func nodeJSON(n *cnode, s *snode) map[string]any {
	out := map[string]any{}
	for name, c := range n.kids {
		cs := s.kids[name]
		if cs == nil {
			continue
		}
		switch cs.kind {
		case sNode:
			out[name] = nodeJSON(c, cs)
		case sTag:
			m := map[string]any{}
			for v, vn := range c.kids {
				m[v] = nodeJSON(vn, cs)
			}
			out[name] = m
		default:
			out[name] = leafJSON(c, cs)
		}
	}
	return out
}

func leafJSON(c *cnode, cs *snode) any {
	switch {
	case cs.kind == sFlag:
		return map[string]any{}
	case cs.kind == sMulti && len(c.vals) > 1:
		return append([]string(nil), c.vals...)
	case len(c.vals) > 0:
		return c.vals[0]
	}
	return map[string]any{}
}

// values returns a leaf's values (returnValues).
func (t *tree) values(path []string) ([]string, bool) {
	s, n := t.schema, t.root
	for i := 0; i < len(path); i++ {
		cs, ok := s.kids[path[i]]
		if !ok {
			return nil, false
		}
		c, ok := n.kids[path[i]]
		if !ok {
			return nil, false
		}
		if cs.kind == sLeaf || cs.kind == sMulti {
			return c.vals, i == len(path)-1
		}
		if cs.kind == sTag && i+1 < len(path) {
			if c, ok = c.kids[path[i+1]]; !ok {
				return nil, false
			}
			i++
		}
		n, s = c, cs
	}
	return nil, false
}

func (t *tree) exists(path []string) bool {
	for _, st := range t.statements() {
		if hasPrefix(st.words, path) {
			return true
		}
	}
	return false
}

// kindAt is the template kind of the node at path (tag values included in
// the path); sNode when the templates do not know it.
func (t *tree) kindAt(path []string) skind {
	s := t.schema
	for i := 0; i < len(path); i++ {
		c, ok := s.kids[path[i]]
		if !ok {
			return sNode
		}
		if c.kind == sTag {
			i++
		}
		s = c
	}
	return s.kind
}

// equal compares two trees statement by statement.
func (t *tree) equal(o *tree) bool { return t.key() == o.key() }

// key is the whole configuration as one comparable string.
func (t *tree) key() string {
	var b strings.Builder
	for _, st := range t.statements() {
		b.WriteString(strings.Join(st.words, "\x00") + "\n")
	}
	return b.String()
}

// subtreeCommands is the set-command text of one top-level node.
func (t *tree) subtreeCommands(top string) string {
	var b strings.Builder
	for _, st := range t.statements() {
		if st.words[0] == top {
			b.WriteString(strings.Join(st.words, "\x00") + "\n")
		}
	}
	return b.String()
}

// load replaces t's content with a configuration in either format: curly
// (config.boot) or set commands.
func (t *tree) load(text string) error {
	t.root = newNode()
	paths, err := parseConfigText(text)
	if err != nil {
		return err
	}
	for _, p := range paths {
		if err := t.set(p); err != nil {
			return fmt.Errorf("%s: %s", strings.Join(p, " "), strings.TrimSpace(err.Error()))
		}
	}
	return nil
}

func parseConfigText(text string) ([][]string, error) {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "set ") {
			return parseSetLines(text)
		}
	}
	if strings.Contains(text, "/* === vyatta-config-version:") {
		return parseCurlyVyattaCfg(text)
	}
	return parseCurly(text)
}

// parseCurlyVyattaCfg reads a config.boot that vyatta-save-config.pl wrote
// (values quoted only when needed, never escaped): one statement per line,
// the rest of a leaf's line is its value, surrounding double quotes are the
// printer's. This lenient reading serves seeds and hand-written files; at
// boot the router reads config.boot with its own loader, modelled in
// cparse.go (Router.Reboot), which rejects a value holding `"` and a space.
func parseCurlyVyattaCfg(text string) ([][]string, error) {
	var out [][]string
	type frame struct {
		path  []string
		items int
	}
	stack := []frame{{}}
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "/*") {
			for !strings.HasSuffix(l, "*/") && i+1 < len(lines) {
				i++
				l = strings.TrimSpace(lines[i])
			}
			continue
		}
		if l == "" {
			continue
		}
		top := &stack[len(stack)-1]
		if l == "}" {
			if len(stack) == 1 {
				return nil, fmt.Errorf("unbalanced }")
			}
			if top.items == 0 {
				out = append(out, top.path)
			}
			stack = stack[:len(stack)-1]
			continue
		}
		open := strings.HasSuffix(l, "{")
		if open {
			l = strings.TrimSpace(strings.TrimSuffix(l, "{"))
		}
		name, rest, _ := strings.Cut(l, " ")
		words := append(append([]string{}, top.path...), name)
		if rest = strings.TrimSpace(rest); rest != "" {
			if len(rest) >= 2 && rest[0] == '"' && rest[len(rest)-1] == '"' {
				rest = rest[1 : len(rest)-1]
			}
			words = append(words, rest)
		}
		top.items++
		if open {
			stack = append(stack, frame{path: words})
			continue
		}
		out = append(out, words)
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("unbalanced {")
	}
	return out, nil
}

func parseSetLines(text string) ([][]string, error) {
	var out [][]string
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		words, err := splitShellWords(l)
		if err != nil {
			return nil, err
		}
		if len(words) < 2 || words[0] != "set" {
			return nil, fmt.Errorf("not a set command: %q", l)
		}
		out = append(out, words[1:])
	}
	return out, nil
}

// parseCurly reads config.boot into statements (paths to leaves, valueless
// nodes and empty tag values).
func parseCurly(text string) ([][]string, error) {
	var out [][]string
	type frame struct {
		path  []string
		items int
	}
	stack := []frame{{}}
	// strip comments
	var clean strings.Builder
	for i := 0; i < len(text); i++ {
		if strings.HasPrefix(text[i:], "/*") {
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated comment")
			}
			i += end + 3
			continue
		}
		if strings.HasPrefix(text[i:], "//") {
			for i < len(text) && text[i] != '\n' {
				i++
			}
			clean.WriteByte('\n')
			continue
		}
		clean.WriteByte(text[i])
	}
	for _, line := range strings.Split(clean.String(), "\n") {
		words, err := curlyWords(line)
		if err != nil {
			return nil, err
		}
		for len(words) > 0 {
			// split at braces
			k := 0
			for k < len(words) && words[k] != "{" && words[k] != "}" {
				k++
			}
			stmtWords := words[:k]
			top := &stack[len(stack)-1]
			if k < len(words) && words[k] == "{" {
				if len(stmtWords) == 0 || len(stmtWords) > 2 {
					return nil, fmt.Errorf("bad node %q", strings.Join(stmtWords, " "))
				}
				top.items++
				stack = append(stack, frame{path: append(append([]string{}, top.path...), stmtWords...)})
				words = words[k+1:]
				continue
			}
			if len(stmtWords) > 0 {
				if len(stmtWords) > 2 {
					return nil, fmt.Errorf("bad statement %q", strings.Join(stmtWords, " "))
				}
				top.items++
				out = append(out, append(append([]string{}, top.path...), stmtWords...))
			}
			if k < len(words) && words[k] == "}" {
				if len(stack) == 1 {
					return nil, fmt.Errorf("unbalanced }")
				}
				f := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if f.items == 0 {
					out = append(out, f.path)
				}
				words = words[k+1:]
				continue
			}
			words = nil
		}
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("unbalanced {")
	}
	return out, nil
}

var vyosEscapes = map[byte]byte{'/': '/', '\\': '\\', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', '\'': '\'', '"': '"'}

func curlyWords(line string) ([]string, error) {
	var out []string
	for i := 0; i < len(line); {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '{' || c == '}':
			out = append(out, string(c))
			i++
		case c == '"' || c == '\'':
			// vyos1x-config src/vyos1x_lexer.mll (master): both quotes,
			// with \/ \\ \b \f \n \r \t \' \" escapes.
			var b strings.Builder
			j := i + 1
			for ; j < len(line) && line[j] != c; j++ {
				if line[j] == '\\' && j+1 < len(line) {
					j++
					if r, ok := vyosEscapes[line[j]]; ok {
						b.WriteByte(r)
						continue
					}
					b.WriteByte('\\')
				}
				b.WriteByte(line[j])
			}
			if j >= len(line) {
				return nil, fmt.Errorf("unterminated quote")
			}
			out = append(out, b.String())
			i = j + 1
		default:
			j := i
			for j < len(line) && !strings.ContainsRune(" \t\r{}\"'", rune(line[j])) {
				j++
			}
			out = append(out, line[i:j])
			i = j
		}
	}
	return out, nil
}

// sortedKeys orders child names alphabetically and tag values the way
// Vyatta's CLI does (Debian version order: rule 10 before rule 100).
func sortedKeys(m map[string]*cnode, natural bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	if natural {
		sort.Slice(keys, func(i, j int) bool { return naturalLess(keys[i], keys[j]) })
	} else {
		sort.Strings(keys)
	}
	return keys
}

func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, ra := leadingDigits(a)
		db, rb := leadingDigits(b)
		if da != "" && db != "" {
			na, _ := strconv.Atoi(da)
			nb, _ := strconv.Atoi(db)
			if na != nb {
				return na < nb
			}
			a, b = ra, rb
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func leadingDigits(s string) (string, string) {
	i := 0
	for i < len(s) && i < 9 && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i], s[i:]
}

func contains(xs []string, x string) bool { return index(xs, x) >= 0 }

func index(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func hasPrefix(words, prefix []string) bool {
	if len(prefix) > len(words) {
		return false
	}
	for i := range prefix {
		if words[i] != prefix[i] {
			return false
		}
	}
	return true
}
