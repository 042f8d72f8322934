package router

import (
	"fmt"
	"strings"
)

// How the routers print their configuration, read from the printing code
// (never run on a real box; the golden tests in listing_test.go follow these
// rules):
//
//  1. `cli-shell-api showConfig --show-commands`, what the SSH driver reads,
//     is vyatta-cfg's src/cnode/cnode-algorithm.cpp `_print_cmds_list`
//     (identical on branches pacifica = Vyatta 6.5, equuleus, sagitta and
//     current): the operation, then every word of the path, node names
//     included, printed as ` '%s'` with no escaping at all:
//
//	set 'interfaces' 'ethernet' 'eth0' 'description' 'Bob's "uplink"'
//
//     Comments come out as `comment '...' ...` lines, which are skipped.
//
//  2. VyOS 1.2+ `show configuration commands` (op-mode-definitions
//     show-configuration.xml.in: `cli-shell-api showCfg | vyos-config-to-commands`)
//     is vyos1x-config src/config_tree.ml `Renderer.render_commands`: path
//     words bare, the value in single quotes after `Util.escape_string`,
//     which escapes `"`, `\` and control characters but not `'`:
//
//	set interfaces ethernet eth0 description 'Bob's \"uplink\"'
//
//  3. config.boot on Vyatta 6.x and VyOS 1.2/1.3 is written by
//     vyatta-save-config.pl from `cli-shell-api showConfig`, i.e. vyatta-cfg
//     `_print_value_str`: a value is put in double quotes only when it is
//     empty or holds one of `*}{;` or white space, and is never escaped. Tag
//     values are printed bare on pacifica and quoted by the same test (not
//     the empty one) from equuleus on. The footer is /* ... */ with
//     `vyatta-config-version`.
//
//	description "Bob's "best" uplink"
//	description C:\uplink
//
//     The platform's own boot loader cannot read the first line back (its
//     lexer ends the value at the second `"`): Render refuses double
//     quotes there (checkBootLoadable), but a value someone else saved
//     this way is read here all the same.
//
//  4. config.boot on VyOS 1.4+ is written by vyos-1x
//     src/helpers/vyos-save-config.py through vyos1x-config
//     `Renderer.render_config`: every value double-quoted and escaped with
//     `Util.escape_string`, tag values bare, and the footer is // comments
//     with `vyos-config-version` (vyos-1x python/vyos/component_version.py).
//
// The rules that make the unescaped forms readable, and what stays
// ambiguous:
//
//   - Form 1: a word ends only where a quote is followed by a space and a
//     quote (`' '`), or at the quote that ends the line. Node names are
//     identifiers and never hold a quote; a word that itself contains
//     `' '` (or, other than the last, ends with `' `) is split wrongly, and
//     nothing in the text can tell. Render refuses such descriptions, so
//     the owned configuration never hits it. A value holding a newline
//     spreads over two lines; the first does not end with a quote, which
//     is refused rather than guessed.
//   - Form 3: each statement is one line. After the node name and one
//     space, the rest of the line is the value; if it starts and ends with
//     `"` those quotes are the printer's and are dropped. So a value that
//     itself starts and ends with `"` and holds none of the characters that
//     force quoting (e.g. `"x"`) is read without its quotes. A value
//     starting with `"` that holds a space but does not end with `"` can
//     only be the start of a multi-line value: refused.
//   - The footer says which writer produced a config.boot (form 3 or 4): a
//     VyOS 1.4 router that has not saved since its upgrade still holds a
//     form 3 file. Without a footer the caller's platform decides.

// ParseCommands parses a set-command listing in either form a router
// prints it: `cli-shell-api showConfig --show-commands` (every word in
// single quotes, no escaping) or VyOS's `show configuration commands` (bare
// path, escaped value in single quotes). Lines that are not set commands
// (blank lines, banners, comment commands) are ignored; a line with broken
// quoting is an error, because silently dropping it would make owned config
// look absent.
func ParseCommands(text string) (Config, error) {
	var paths []Path
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, "set ")
		if !ok {
			continue
		}
		var words []string
		var err error
		if strings.HasPrefix(rest, "'") {
			words, err = splitAllQuoted(rest)
		} else {
			words, err = splitValueQuoted(rest)
		}
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if len(words) == 0 {
			return nil, fmt.Errorf("line %d: empty configuration statement", n+1)
		}
		paths = append(paths, Path(words))
	}
	return NewConfig(paths...), nil
}

// splitAllQuoted reads the words of one cli-shell-api command line (form 1).
func splitAllQuoted(rest string) ([]string, error) {
	if len(rest) < 2 || rest[len(rest)-1] != '\'' {
		return nil, fmt.Errorf("unterminated single quote (a value holding a newline cannot be read from this listing)")
	}
	return strings.Split(rest[1:len(rest)-1], "' '"), nil
}

// splitValueQuoted reads the words of one vyos1x render_commands line
// (form 2): bare words, then at most one quoted, escaped value that ends
// the line.
func splitValueQuoted(rest string) ([]string, error) {
	q := strings.IndexByte(rest, '\'')
	if q < 0 {
		return strings.Fields(rest), nil
	}
	if q > 0 && rest[q-1] != ' ' && rest[q-1] != '\t' {
		return nil, fmt.Errorf("quote inside the word %q", lastField(rest[:q+1]))
	}
	v := rest[q:]
	if len(v) < 2 || v[len(v)-1] != '\'' {
		return nil, fmt.Errorf("unterminated single quote")
	}
	return append(strings.Fields(rest[:q]), unescapeVyOS(v[1:len(v)-1])), nil
}

func lastField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return s
	}
	return f[len(f)-1]
}

// unescapeVyOS undoes vyos1x-config `Util.escape_string` (src/util.ml):
// `\"`, `\\`, `\n`, `\t`, `\r`, `\b` and `\ddd` (decimal) for the other
// control characters; the lexer (src/vyos1x_lexer.mll) also reads `\/`,
// `\f` and `\'`. Any other backslash is kept as it is.
func unescapeVyOS(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		n := s[i+1]
		switch n {
		case '"', '\\', '\'', '/':
			b.WriteByte(n)
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		default:
			if i+3 < len(s) && isDigit(n) && isDigit(s[i+2]) && isDigit(s[i+3]) {
				if v := int(n-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0'); v < 256 {
					b.WriteByte(byte(v))
					i += 3
					continue
				}
			}
			b.WriteByte(c)
			continue
		}
		i++
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// BootDialect is the writer of a config.boot, which decides how its values
// are quoted.
type BootDialect int

const (
	// DialectUnknown: no footer, and no platform to fall back on.
	DialectUnknown BootDialect = iota
	// DialectVyattaCfg is vyatta-cfg's `_print_value_str` (form 3 above):
	// Vyatta 6.x and VyOS 1.2/1.3. Quotes only when needed, never escapes.
	DialectVyattaCfg
	// DialectVyOS1x is vyos1x-config's `render_config` (form 4): VyOS 1.4+.
	// Every value double-quoted and escaped.
	DialectVyOS1x
)

// BootDialect is the writer of config.boot on p.
func (p Platform) BootDialect() BootDialect {
	switch p {
	case Vyatta6, VyOS13:
		return DialectVyattaCfg
	case VyOS14, VyOS15:
		return DialectVyOS1x
	}
	return DialectUnknown
}

// ConfigBootDialect tells the writer of a config.boot from its footer:
// `/* === vyatta-config-version: ... === */` (vyatta-save-config.pl) or
// `// vyos-config-version: ...` (vyos-save-config.py), as
// vyos-1x python/vyos/component_version.py writes and recognises them.
func ConfigBootDialect(text string) BootDialect {
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "// vyos-config-version:"):
			return DialectVyOS1x
		case strings.HasPrefix(t, "/* === vyatta-config-version:"):
			return DialectVyattaCfg
		}
	}
	return DialectUnknown
}

// ParseConfigBootFor parses config.boot written on platform p: the file's
// own footer decides the dialect, p only when there is none.
func ParseConfigBootFor(p Platform, text string) (Config, error) {
	d := ConfigBootDialect(text)
	if d == DialectUnknown {
		d = p.BootDialect()
	}
	if d == DialectVyattaCfg {
		return parseConfigBootVyattaCfg(text)
	}
	return parseConfigBootEscaped(text)
}

// parseConfigBootVyattaCfg reads form 3: one statement per line, values
// quoted only when needed and never escaped.
func parseConfigBootVyattaCfg(text string) (Config, error) {
	var paths []Path
	type frame struct {
		path     Path
		children int
	}
	stack := []frame{{}}
	lines := strings.Split(text, "\n")
	for n := 0; n < len(lines); n++ {
		t := strings.TrimSpace(lines[n])
		if t == "" {
			continue
		}
		if strings.HasPrefix(t, "/*") {
			// "/* %s */" before a node, and the footer.
			for !strings.Contains(t[2:], "*/") {
				if n++; n >= len(lines) {
					return nil, fmt.Errorf("unterminated comment")
				}
				t = "/*" + lines[n]
			}
			continue
		}
		top := &stack[len(stack)-1]
		switch {
		case t == "}":
			if len(stack) == 1 {
				return nil, fmt.Errorf("line %d: unbalanced '}'", n+1)
			}
			if top.children == 0 {
				paths = append(paths, top.path)
			}
			stack = stack[:len(stack)-1]
		case strings.HasSuffix(t, "{"):
			name, tag := cutWord(strings.TrimSpace(t[:len(t)-1]))
			if name == "" {
				return nil, fmt.Errorf("line %d: '{' without a node name", n+1)
			}
			p := append(append(Path{}, top.path...), name)
			if tag != "" {
				p = append(p, unquoteVyattaCfg(tag))
			}
			top.children++
			stack = append(stack, frame{path: p})
		default:
			name, val := cutWord(t)
			if strings.ContainsAny(name, "{}\"") {
				return nil, fmt.Errorf("line %d: bad node name %q", n+1, name)
			}
			p := append(append(Path{}, top.path...), name)
			if val != "" {
				quoted := len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"'
				if !quoted && strings.ContainsAny(val, " \t\v\f") {
					// A bare value never holds white space: this is a
					// second value, or a quoted value continued on the
					// next line.
					return nil, fmt.Errorf("line %d: statement %q has more than one value", n+1, t)
				}
				p = append(p, unquoteVyattaCfg(val))
			}
			top.children++
			paths = append(paths, p)
		}
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("unbalanced '{': %d left open", len(stack)-1)
	}
	return NewConfig(paths...), nil
}

// cutWord splits "name rest" at the first blank.
func cutWord(s string) (string, string) {
	i := strings.IndexAny(s, " \t")
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeft(s[i:], " \t")
}

func unquoteVyattaCfg(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1]
	}
	return v
}
