package routersim

import (
	"fmt"
	"strings"
)

// The boot loader of Vyatta 6.5 and VyOS 1.3. Both read config.boot with
// vyatta-cfg's cparse: `cli-shell-api loadFile` (src/cli_shell_api.cpp),
// Cstore::loadFile (src/cstore/cstore.cpp), cparse::parse_file
// (src/cparse/cparse.ypp, lexer src/cparse/cparse_lex.l), branches pacifica
// and equuleus. This is a model of that lexer and grammar written from
// reading them (not run against the C code): what it accepts, the values it
// produces, and the error it prints.
//
// Lexer states and what each accepts:
//
//   - between statements: `/* ... */` is a comment, `}` closes a node, a
//     name ([-A-Za-z0-9_]+) starts one, blanks and newlines are skipped, `!`
//     marks the next node deactivated; from equuleus on (commit "T1334:
//     Migration script runner rewrite") `//` starts a comment to the end
//     of the line. Anything else is a syntax error token.
//   - after a name: `{` opens the node, a newline ends it, blanks (after
//     an optional `:`) followed by something else start the value(s).
//   - values: blanks are skipped; `"` starts a quoted string; otherwise a
//     run of characters other than blanks and `{`, not starting with `"`,
//     is one unquoted value (it may hold `"` further on); `{` opens the
//     node, a newline ends the statement.
//   - quoted string: a backslash and the character after it are kept as
//     they are (nothing is unescaped), newlines are part of the string,
//     and the first `"` not taken by a backslash ends it. From crux (VyOS
//     1.2) on, a backslash, `"` and a newline end the string with the
//     backslash kept (commit 998b63e, VyOS bug 593); on pacifica the
//     backslash takes the quote and the string runs on.
//
// Grammar: input = forest comment*; forest = tree*; tree = node | node `{`
// forest comment* `}`; node = comment* NAME [VALUE]. A second value on a
// line, a stray `}` or a syntax error token fails the whole file: parse_file
// returns NULL and nothing is loaded.
//
// Not modelled: deactivated nodes are loaded as active ones, comments are
// dropped, and cparse's merging of repeated nodes is left to tree.set.

type cpKind int

const (
	cpEOF cpKind = iota
	cpNode
	cpValue
	cpComment
	cpLeftB
	cpRightB
	cpSyntaxError
)

type cpToken struct {
	kind cpKind
	val  string // the node name or value
	text string // what the lexer matched last (cparse_text)
	line int    // cparse_lineno after the token
}

type cpState int

const (
	cpInitial cpState = iota
	cpID
	cpVal
)

type cpLexer struct {
	src      string
	pos      int
	line     int
	state    cpState
	equuleus bool
}

func isCPBlank(c byte) bool { return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' }

func isCPIDChar(c byte) bool {
	return c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (l *cpLexer) tok(k cpKind, val, text string) cpToken {
	return cpToken{kind: k, val: val, text: text, line: l.line}
}

func (l *cpLexer) next() cpToken {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch l.state {
		case cpInitial:
			switch {
			case strings.HasPrefix(l.src[l.pos:], "/*"):
				end := strings.Index(l.src[l.pos+2:], "*/")
				if end < 0 {
					// end of input inside a comment: the scanner stops
					l.pos = len(l.src)
					return l.tok(cpEOF, "", "")
				}
				body := l.src[l.pos+2 : l.pos+2+end]
				l.line += strings.Count(body, "\n")
				l.pos += end + 4
				return l.tok(cpComment, strings.TrimSpace(body), "*/")
			case l.equuleus && strings.HasPrefix(l.src[l.pos:], "//"):
				for l.pos < len(l.src) && l.src[l.pos] != '\n' {
					l.pos++
				}
			case c == '!' || isCPBlank(c):
				l.pos++
			case c == '\n':
				l.line++
				l.pos++
			case c == '}':
				l.pos++
				return l.tok(cpRightB, "", "}")
			case isCPIDChar(c):
				start := l.pos
				for l.pos < len(l.src) && isCPIDChar(l.src[l.pos]) {
					l.pos++
				}
				l.state = cpID
				return l.tok(cpNode, l.src[start:l.pos], l.src[start:l.pos])
			default:
				l.pos++
				return l.tok(cpSyntaxError, "", string(c))
			}
		case cpID:
			start := l.pos
			colon := c == ':'
			if colon {
				l.pos++
			}
			blanks := l.pos
			for l.pos < len(l.src) && isCPBlank(l.src[l.pos]) {
				l.pos++
			}
			hadBlanks := l.pos > blanks
			if l.pos >= len(l.src) {
				continue
			}
			switch d := l.src[l.pos]; {
			case d == '{' && !colon:
				l.pos++
				l.state = cpInitial
				return l.tok(cpLeftB, "", "{")
			case d == '\n' && !colon:
				l.pos++
				l.line++
				l.state = cpInitial
			case hadBlanks && d != '{' && d != '\n':
				l.state = cpVal
			default:
				// a `:` not followed by blanks and a value, or a
				// character glued to the name
				l.pos = start + 1
				return l.tok(cpSyntaxError, "", string(c))
			}
		case cpVal:
			switch {
			case isCPBlank(c):
				l.pos++
			case c == '\n':
				l.pos++
				l.line++
				l.state = cpInitial
			case c == '{':
				l.pos++
				l.state = cpInitial
				return l.tok(cpLeftB, "", "{")
			case c == '"':
				l.pos++
				return l.quoted()
			default:
				start := l.pos
				for l.pos < len(l.src) && !isCPBlank(l.src[l.pos]) && l.src[l.pos] != '\n' && l.src[l.pos] != '{' {
					l.pos++
				}
				return l.tok(cpValue, l.src[start:l.pos], l.src[start:l.pos])
			}
		}
	}
	return l.tok(cpEOF, "", "")
}

// quoted reads a double-quoted string, the opening quote consumed.
func (l *cpLexer) quoted() cpToken {
	var b strings.Builder
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case c == '"':
			l.pos++
			return l.tok(cpValue, b.String(), `"`)
		case c == '\\' && l.equuleus && strings.HasPrefix(l.src[l.pos:], "\\\"\n"):
			b.WriteByte('\\')
			l.pos += 3
			l.line++
			l.state = cpInitial
			return l.tok(cpValue, b.String(), "\\\"\n")
		case c == '\\':
			if l.pos+1 >= len(l.src) || l.src[l.pos+1] == '\n' {
				// `\\.` does not take a newline: the lone backslash is
				// matched by no rule of the string state but the
				// catch-all, a syntax error.
				l.pos++
				return l.tok(cpSyntaxError, "", `\`)
			}
			b.WriteString(l.src[l.pos : l.pos+2])
			l.pos += 2
		case c == '\n':
			b.WriteByte('\n')
			l.line++
			l.pos++
		default:
			b.WriteByte(c)
			l.pos++
		}
	}
	// end of input inside the string: the scanner stops
	return l.tok(cpEOF, "", "")
}

// cparseError is what `cli-shell-api loadFile` prints when parse_file fails:
// cparse_error's line (cparse.ypp; "syntax error" is bison's message) and
// Cstore::loadFile's.
type cparseError struct {
	line int
	text string
}

func (e *cparseError) Error() string {
	return fmt.Sprintf("Invalid config file (syntax error): error at line %d, text [%s]\nFailed to parse specified config file", e.line, e.text)
}

type cpParser struct {
	lx  *cpLexer
	tok cpToken
	out [][]string
}

func (p *cpParser) advance() { p.tok = p.lx.next() }

func (p *cpParser) fail() error { return &cparseError{line: p.tok.line, text: p.tok.text} }

// forest reads trees under path until something that cannot start one.
func (p *cpParser) forest(path []string) (int, error) {
	n := 0
	for {
		for p.tok.kind == cpComment {
			p.advance()
		}
		if p.tok.kind != cpNode {
			return n, nil
		}
		words := append(append([]string{}, path...), p.tok.val)
		p.advance()
		if p.tok.kind == cpValue {
			words = append(words, p.tok.val)
			p.advance()
		}
		n++
		if p.tok.kind != cpLeftB {
			p.out = append(p.out, words)
			continue
		}
		p.advance()
		kids, err := p.forest(words)
		if err != nil {
			return n, err
		}
		if p.tok.kind != cpRightB {
			return n, p.fail()
		}
		if kids == 0 {
			p.out = append(p.out, words)
		}
		p.advance()
	}
}

// parseCparse reads config.boot as the boot loader of Vyatta 6.5 (pacifica,
// equuleus false) or VyOS 1.3 (equuleus) does, into statements.
func parseCparse(text string, equuleus bool) ([][]string, error) {
	p := &cpParser{lx: &cpLexer{src: text, line: 1, equuleus: equuleus}}
	p.advance()
	if _, err := p.forest(nil); err != nil {
		return nil, err
	}
	if p.tok.kind != cpEOF {
		return nil, p.fail()
	}
	return p.out, nil
}
