package router

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Path is one configuration statement as its words, without the leading
// "set": ["interfaces", "ethernet", "eth1", "address", "10.0.10.254/24"].
// Tag values, leaf values and valueless nodes are all just words, which is
// how the set-command form, config.boot and /retrieve JSON can be compared.
type Path []string

// String renders p the way `show configuration commands` does, quoting only
// the words that need it, so that a path is readable in a condition message.
func (p Path) String() string {
	words := make([]string, len(p))
	for i, w := range p {
		words[i] = quoteWord(w)
	}
	return strings.Join(words, " ")
}

// HasPrefix reports whether q is p or one of p's ancestors.
func (p Path) HasPrefix(q Path) bool {
	if len(q) > len(p) {
		return false
	}
	for i := range q {
		if p[i] != q[i] {
			return false
		}
	}
	return true
}

func (p Path) key() string { return strings.Join(p, "\x00") }

// ParsePath splits one statement (with or without a leading "set") into words,
// honouring the quotes `show configuration commands` uses.
func ParsePath(line string) (Path, error) {
	words, err := splitWords(line)
	if err != nil {
		return nil, err
	}
	if len(words) > 0 && words[0] == "set" {
		words = words[1:]
	}
	if len(words) == 0 {
		return nil, fmt.Errorf("empty configuration statement")
	}
	return Path(words), nil
}

// MustPaths parses statements known to be valid; it is meant for tables and
// constants, never for router output.
func MustPaths(lines ...string) []Path {
	out := make([]Path, 0, len(lines))
	for _, l := range lines {
		p, err := ParsePath(l)
		if err != nil {
			panic(err)
		}
		out = append(out, p)
	}
	return out
}

// Config is a normalised configuration: a sorted set of leaf paths. Two
// configs that differ only in formatting (quotes, braces, JSON shape, order)
// are equal.
type Config []Path

// NewConfig sorts and de-duplicates paths into a Config.
func NewConfig(paths ...Path) Config {
	seen := make(map[string]bool, len(paths))
	out := make(Config, 0, len(paths))
	for _, p := range paths {
		if len(p) == 0 || seen[p.key()] {
			continue
		}
		seen[p.key()] = true
		out = append(out, append(Path(nil), p...))
	}
	sort.Slice(out, func(i, j int) bool { return lessPath(out[i], out[j]) })
	return out
}

func lessPath(a, b Path) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// Contains reports whether p is one of c's statements.
func (c Config) Contains(p Path) bool {
	i := sort.Search(len(c), func(i int) bool { return !lessPath(c[i], p) })
	return i < len(c) && c[i].key() == p.key()
}

// Under returns the statements at or below prefix.
func (c Config) Under(prefix Path) Config {
	var out Config
	for _, p := range c {
		if p.HasPrefix(prefix) {
			out = append(out, p)
		}
	}
	return out
}

// Owned keeps only the statements below one of the owned prefixes: the part
// of a router's configuration the operator is allowed to look at and change.
func (c Config) Owned(owned []Path) Config {
	var out Config
	for _, p := range c {
		if isOwned(p, owned) {
			out = append(out, p)
		}
	}
	return out
}

// Unowned is the complement of Owned: what the operator must never change.
func (c Config) Unowned(owned []Path) Config {
	var out Config
	for _, p := range c {
		if !isOwned(p, owned) {
			out = append(out, p)
		}
	}
	return out
}

func isOwned(p Path, owned []Path) bool {
	for _, o := range owned {
		if p.HasPrefix(o) {
			return true
		}
	}
	return false
}

// Minus returns the statements of c that other lacks.
func (c Config) Minus(other Config) Config {
	var out Config
	for _, p := range c {
		if !other.Contains(p) {
			out = append(out, p)
		}
	}
	return out
}

// Equal reports whether both configs hold the same statements.
func (c Config) Equal(other Config) bool {
	if len(c) != len(other) {
		return false
	}
	for i := range c {
		if c[i].key() != other[i].key() {
			return false
		}
	}
	return true
}

// Lines renders every statement as `set`-less command text.
func (c Config) Lines() []string {
	out := make([]string, len(c))
	for i, p := range c {
		out[i] = p.String()
	}
	return out
}

// Hash is a short stable digest of the statements, for status fields that
// record what was applied and what was saved.
func (c Config) Hash() string {
	h := sha256.New()
	for _, p := range c {
		h.Write([]byte(p.key()))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ParseConfigBoot parses the curly configuration format of config.boot and
// `show configuration`:
//
//	interfaces {
//	    ethernet eth1 {
//	        address 10.0.10.254/24
//	    }
//	}
//
// A node that opens a brace has one word (a plain node) or two (tag node and
// tag value); a statement without a brace is a leaf with at most one value;
// a node whose braces hold nothing is kept as a statement of its own (that is
// how `next-hop-interface eth2 { }` is written). Both comment styles (/* */
// from Vyatta and VyOS <= 1.3, // from 1.4) are skipped.
//
// The footer tells which writer produced the file and so how values are
// quoted (see listing.go); a file without one is read as VyOS 1.4+ writes
// it. Callers that know the platform use ParseConfigBootFor.
func ParseConfigBoot(text string) (Config, error) { return ParseConfigBootFor("", text) }

// parseConfigBootEscaped reads config.boot as vyos1x-config's lexer does
// (src/vyos1x_lexer.mll): words, braces and values in double or single
// quotes with backslash escapes, in any layout.
func parseConfigBootEscaped(text string) (Config, error) {
	toks, err := curlyTokens(text)
	if err != nil {
		return nil, err
	}
	var paths []Path
	var stack []struct {
		path     Path
		children int
	}
	cur := Path{}
	var words []string
	flushLeaf := func() error {
		if len(words) == 0 {
			return nil
		}
		if len(words) > 2 {
			return fmt.Errorf("statement %q has more than one value", strings.Join(words, " "))
		}
		paths = append(paths, append(append(Path{}, cur...), words...))
		if len(stack) > 0 {
			stack[len(stack)-1].children++
		}
		words = nil
		return nil
	}
	for _, tk := range toks {
		t := tk.text
		switch {
		case !tk.word && t == "\n":
			if err := flushLeaf(); err != nil {
				return nil, err
			}
		case !tk.word && t == "{":
			if len(words) == 0 || len(words) > 2 {
				return nil, fmt.Errorf("unexpected '{' after %q", strings.Join(words, " "))
			}
			if len(stack) > 0 {
				stack[len(stack)-1].children++
			}
			cur = append(append(Path{}, cur...), words...)
			stack = append(stack, struct {
				path     Path
				children int
			}{path: cur})
			words = nil
		case !tk.word && t == "}":
			if err := flushLeaf(); err != nil {
				return nil, err
			}
			if len(stack) == 0 {
				return nil, fmt.Errorf("unbalanced '}'")
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if top.children == 0 {
				paths = append(paths, top.path)
			}
			if len(stack) > 0 {
				cur = stack[len(stack)-1].path
			} else {
				cur = Path{}
			}
		default:
			words = append(words, t)
		}
	}
	if err := flushLeaf(); err != nil {
		return nil, err
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("unbalanced '{': %d left open", len(stack))
	}
	return NewConfig(paths...), nil
}

// curlyToken is a word (word true) or a brace or newline.
type curlyToken struct {
	word bool
	text string
}

// curlyTokens splits config.boot into words, braces and newlines. Words may be
// double- or single-quoted with backslash escapes.
func curlyTokens(text string) ([]curlyToken, error) {
	var toks []curlyToken
	i := 0
	for i < len(text) {
		c := text[i]
		switch {
		case c == '\n':
			toks = append(toks, curlyToken{text: "\n"})
			i++
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '{' || c == '}':
			toks = append(toks, curlyToken{text: string(c)})
			i++
		case c == '/' && i+1 < len(text) && text[i+1] == '*':
			end := strings.Index(text[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated comment")
			}
			// Comments may span lines; keep the line structure.
			for k := strings.Count(text[i:i+2+end+2], "\n"); k > 0; k-- {
				toks = append(toks, curlyToken{text: "\n"})
			}
			i += 2 + end + 2
		case c == '/' && i+1 < len(text) && text[i+1] == '/':
			end := strings.IndexByte(text[i:], '\n')
			if end < 0 {
				i = len(text)
			} else {
				i += end
			}
		case c == '"' || c == '\'':
			j := i + 1
			closed := false
			for j < len(text) {
				if text[j] == '\\' && j+1 < len(text) {
					j += 2
					continue
				}
				if text[j] == c {
					closed = true
					break
				}
				j++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated quoted value")
			}
			toks = append(toks, curlyToken{word: true, text: unescapeVyOS(text[i+1 : j])})
			// A value may hold newlines; keep the line structure.
			for k := strings.Count(text[i:j], "\n"); k > 0; k-- {
				toks = append(toks, curlyToken{text: "\n"})
			}
			i = j + 1
		default:
			j := i
			for j < len(text) && !strings.ContainsRune(" \t\r\n{}\"'", rune(text[j])) {
				j++
			}
			toks = append(toks, curlyToken{word: true, text: text[i:j]})
			i = j
		}
	}
	return toks, nil
}

// ParseRetrieveJSON normalises the `data` of a /retrieve showConfig reply into
// statements below prefix (the path that was asked for). The API writes a
// leaf with one value as a string, with several as a list, a valueless node as
// {}, and tag nodes as maps keyed by tag value.
func ParseRetrieveJSON(data []byte, prefix Path) (Config, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("retrieve reply is not JSON: %w", err)
	}
	var paths []Path
	if err := walkRetrieve(v, append(Path{}, prefix...), &paths, 0); err != nil {
		return nil, err
	}
	return NewConfig(paths...), nil
}

func walkRetrieve(v any, at Path, out *[]Path, depth int) error {
	if depth > 64 {
		return fmt.Errorf("configuration nested deeper than 64 levels")
	}
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			if len(at) > 0 {
				*out = append(*out, at)
			}
			return nil
		}
		for k, child := range x {
			if err := walkRetrieve(child, append(append(Path{}, at...), k), out, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("list under %q holds a %T, want strings", at.String(), e)
			}
			*out = append(*out, append(append(Path{}, at...), s))
		}
	case string:
		*out = append(*out, append(append(Path{}, at...), x))
	case nil:
		if len(at) > 0 {
			*out = append(*out, at)
		}
	default:
		return fmt.Errorf("unexpected %T under %q", v, at.String())
	}
	return nil
}

// splitWords is a small shell-word splitter: single quotes are literal,
// double quotes allow backslash escapes, a backslash outside quotes escapes
// the next character.
func splitWords(line string) ([]string, error) {
	var words []string
	var b strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("unterminated single quote")
			}
			b.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			j := i + 1
			for ; j < len(line) && line[j] != '"'; j++ {
				if line[j] == '\\' && j+1 < len(line) {
					j++
				}
				b.WriteByte(line[j])
			}
			if j >= len(line) {
				return nil, fmt.Errorf("unterminated double quote")
			}
			i = j
			inWord = true
		case c == '\\':
			if i+1 < len(line) {
				i++
				b.WriteByte(line[i])
			}
			inWord = true
		default:
			b.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, b.String())
	}
	return words, nil
}

// quoteWord single-quotes a word for a POSIX shell (and for display) when it
// holds anything but the characters configuration words are made of.
func quoteWord(w string) string {
	if w != "" && strings.Trim(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:@%+=,-") == "" {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}
