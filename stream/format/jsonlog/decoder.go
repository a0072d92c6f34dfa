package jsonlog

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// MaxDepth is the deepest nesting of objects and arrays a Decoder accepts.
// Deeper input is rejected with ErrDepth instead of growing the stack.
const MaxDepth = 64

// ErrorKind classifies a decoding error so parsers can map it to a stable
// dead-letter reason code.
type ErrorKind uint8

const (
	// ErrSyntax: the input is not valid JSON.
	ErrSyntax ErrorKind = iota + 1
	// ErrDepth: objects or arrays are nested deeper than MaxDepth.
	ErrDepth
	// ErrType: valid JSON, but a value has the wrong JSON type for the
	// field that reads it (an object where a string is expected…).
	ErrType
)

// SyntaxError is a decoding error with the byte offset where it was found.
type SyntaxError struct {
	Kind   ErrorKind
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return e.Msg + " at byte " + strconv.Itoa(e.Offset)
}

// Decoder reads one JSON document held in a string, value by value, without
// building a tree. Strings without escapes are returned as substrings of the
// document (no allocation); Raw returns the verbatim JSON text of a value.
//
// The first error is sticky: afterwards every read returns a zero value and
// Err reports it. Readers are lenient about scalar types (String of a number
// returns its text, Bool and Int accept "true"/"12" strings) and strict about
// structure (String of an object is an ErrType error).
type Decoder struct {
	s     string
	i     int
	depth int
	first bool
	err   *SyntaxError
	// member is the last top-level key Member returned.
	member string
}

// Reset prepares d to read s.
func (d *Decoder) Reset(s string) {
	*d = Decoder{s: s}
}

// Err returns the first error met, or nil.
func (d *Decoder) Err() error {
	if d.err == nil {
		return nil
	}
	return d.err
}

// Error returns the first error met as a *SyntaxError, or nil.
func (d *Decoder) Error() *SyntaxError { return d.err }

// Offset returns the current byte offset.
func (d *Decoder) Offset() int { return d.i }

func (d *Decoder) fail(kind ErrorKind, msg string) {
	if d.err == nil {
		d.err = &SyntaxError{Kind: kind, Offset: d.i, Msg: msg}
	}
	d.i = len(d.s)
}

func (d *Decoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\n', '\r', '\t':
			d.i++
		default:
			return
		}
	}
}

// End checks that only whitespace follows the value just read.
func (d *Decoder) End() error {
	if d.err == nil {
		d.ws()
		if d.i != len(d.s) {
			d.fail(ErrSyntax, "unexpected data after the JSON value")
		}
	}
	return d.Err()
}

// Kind is the JSON type of the next value.
type Kind uint8

const (
	KindNone Kind = iota // end of input or after an error
	KindNull
	KindBool
	KindNumber
	KindString
	KindArray
	KindObject
)

// Peek returns the kind of the next value without consuming it.
func (d *Decoder) Peek() Kind {
	d.ws()
	if d.err != nil || d.i >= len(d.s) {
		return KindNone
	}
	switch c := d.s[d.i]; {
	case c == '{':
		return KindObject
	case c == '[':
		return KindArray
	case c == '"':
		return KindString
	case c == 'n':
		return KindNull
	case c == 't' || c == 'f':
		return KindBool
	case c == '-' || (c >= '0' && c <= '9'):
		return KindNumber
	}
	return KindNone
}

// Object starts reading an object. It returns false for null (consumed)
// and on error. Members are then read with Key until it returns false.
func (d *Decoder) Object() bool {
	d.ws()
	if d.err != nil {
		return false
	}
	if d.i < len(d.s) && d.s[d.i] == '{' {
		d.depth++
		if d.depth > MaxDepth {
			d.fail(ErrDepth, "JSON nested deeper than "+strconv.Itoa(MaxDepth)+" levels")
			return false
		}
		d.i++
		d.first = true
		return true
	}
	if d.literal("null") {
		return false
	}
	d.typeError("object")
	return false
}

// Key returns the name of the next member of the current object, or false
// when the object ends (or on error). The caller must read or Skip the
// member's value before calling Key again.
func (d *Decoder) Key() (string, bool) {
	d.ws()
	if d.err != nil || d.i >= len(d.s) {
		d.fail(ErrSyntax, "unexpected end of input in object")
		return "", false
	}
	c := d.s[d.i]
	if c == '}' {
		d.i++
		d.depth--
		d.first = false
		return "", false
	}
	if !d.first {
		if c != ',' {
			d.fail(ErrSyntax, "expected ',' or '}' after object member")
			return "", false
		}
		d.i++
		d.ws()
		if d.i >= len(d.s) {
			d.fail(ErrSyntax, "unexpected end of input in object")
			return "", false
		}
		c = d.s[d.i]
	}
	if c != '"' {
		d.fail(ErrSyntax, "expected string key in object")
		return "", false
	}
	k := d.str()
	d.ws()
	if d.err != nil {
		return "", false
	}
	if d.i >= len(d.s) || d.s[d.i] != ':' {
		d.fail(ErrSyntax, "expected ':' after object key")
		return "", false
	}
	d.i++
	d.first = false
	return k, true
}

// Array starts reading an array. It returns false for null (consumed) and
// on error. Elements are then read after each Elem that returns true.
func (d *Decoder) Array() bool {
	d.ws()
	if d.err != nil {
		return false
	}
	if d.i < len(d.s) && d.s[d.i] == '[' {
		d.depth++
		if d.depth > MaxDepth {
			d.fail(ErrDepth, "JSON nested deeper than "+strconv.Itoa(MaxDepth)+" levels")
			return false
		}
		d.i++
		d.first = true
		return true
	}
	if d.literal("null") {
		return false
	}
	d.typeError("array")
	return false
}

// Elem reports whether the current array has another element; the caller
// must then read or Skip it.
func (d *Decoder) Elem() bool {
	d.ws()
	if d.err != nil || d.i >= len(d.s) {
		d.fail(ErrSyntax, "unexpected end of input in array")
		return false
	}
	c := d.s[d.i]
	if c == ']' {
		d.i++
		d.depth--
		d.first = false
		return false
	}
	if !d.first {
		if c != ',' {
			d.fail(ErrSyntax, "expected ',' or ']' after array element")
			return false
		}
		d.i++
	}
	d.first = false
	return true
}

// String reads a string value (null gives ""). A number or boolean gives
// its JSON text.
func (d *Decoder) String() string {
	d.ws()
	if d.err != nil || d.i >= len(d.s) {
		d.fail(ErrSyntax, "unexpected end of input, expected a value")
		return ""
	}
	switch c := d.s[d.i]; {
	case c == '"':
		return d.str()
	case c == 'n':
		d.literal("null")
		if d.err == nil {
			return ""
		}
		d.fail(ErrSyntax, "invalid literal")
		return ""
	case c == 't' || c == 'f' || c == '-' || (c >= '0' && c <= '9'):
		start := d.i
		d.scalar()
		return d.s[start:d.i]
	}
	d.typeError("string")
	return ""
}

// Strings reads an array of strings (null gives nil); a single string gives
// a one-element slice.
func (d *Decoder) Strings() []string {
	if d.Peek() == KindString {
		return []string{d.String()}
	}
	if !d.Array() {
		return nil
	}
	out := []string{}
	for d.Elem() {
		out = append(out, d.String())
	}
	return out
}

// Bool reads a boolean (null gives false; "true"/"false" strings accepted).
func (d *Decoder) Bool() bool {
	d.ws()
	if d.err != nil || d.i >= len(d.s) {
		d.fail(ErrSyntax, "unexpected end of input, expected a value")
		return false
	}
	switch d.s[d.i] {
	case 't':
		if d.literal("true") {
			return true
		}
	case 'f':
		if d.literal("false") {
			return false
		}
	case 'n':
		if d.literal("null") {
			return false
		}
	case '"':
		v := d.str()
		switch v {
		case "true", "True", "TRUE":
			return true
		case "false", "False", "FALSE", "":
			return false
		}
		d.fail(ErrType, "expected boolean, found string "+strconv.Quote(v))
		return false
	}
	if d.err == nil {
		d.typeError("boolean")
	}
	return false
}

// Int reads an integer (null gives 0; a numeric string is accepted; a
// number with a fraction is truncated).
func (d *Decoder) Int() int64 {
	d.ws()
	if d.err != nil || d.i >= len(d.s) {
		d.fail(ErrSyntax, "unexpected end of input, expected a value")
		return 0
	}
	var text string
	switch c := d.s[d.i]; {
	case c == '-' || (c >= '0' && c <= '9'):
		start := d.i
		d.number()
		text = d.s[start:d.i]
	case c == 'n':
		d.literal("null")
		return 0
	case c == '"':
		text = d.str()
		if text == "" || text == "-" {
			return 0
		}
	default:
		d.typeError("number")
		return 0
	}
	if d.err != nil {
		return 0
	}
	if n, ok := atoi(text); ok {
		return n
	}
	if f, err := strconv.ParseFloat(text, 64); err == nil {
		return int64(f)
	}
	d.fail(ErrType, "expected number, found string "+strconv.Quote(text))
	return 0
}

// Float reads a number (null gives 0; a numeric string is accepted).
func (d *Decoder) Float() float64 {
	d.ws()
	if d.err != nil || d.i >= len(d.s) {
		d.fail(ErrSyntax, "unexpected end of input, expected a value")
		return 0
	}
	var text string
	switch c := d.s[d.i]; {
	case c == '-' || (c >= '0' && c <= '9'):
		start := d.i
		d.number()
		text = d.s[start:d.i]
	case c == 'n':
		d.literal("null")
		return 0
	case c == '"':
		text = d.str()
		if text == "" {
			return 0
		}
	default:
		d.typeError("number")
		return 0
	}
	if d.err != nil {
		return 0
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		d.fail(ErrType, "expected number, found string "+strconv.Quote(text))
		return 0
	}
	return f
}

// Raw skips the next value and returns its verbatim JSON text; null gives "".
func (d *Decoder) Raw() string {
	d.ws()
	start := d.i
	d.Skip()
	if d.err != nil {
		return ""
	}
	v := d.s[start:d.i]
	if v == "null" {
		return ""
	}
	return v
}

// Skip skips the next value, validating it.
func (d *Decoder) Skip() {
	d.ws()
	if d.err != nil || d.i >= len(d.s) {
		d.fail(ErrSyntax, "unexpected end of input, expected a value")
		return
	}
	switch d.s[d.i] {
	case '{':
		if !d.Object() {
			return
		}
		for {
			if _, ok := d.Key(); !ok {
				return
			}
			d.Skip()
		}
	case '[':
		if !d.Array() {
			return
		}
		for d.Elem() {
			d.Skip()
		}
	case '"':
		d.skipStr()
	default:
		d.scalar()
	}
}

// scalar consumes a number or literal.
func (d *Decoder) scalar() {
	switch c := d.s[d.i]; {
	case c == 't':
		d.literal("true")
	case c == 'f':
		d.literal("false")
	case c == 'n':
		d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		d.number()
		return
	default:
		d.fail(ErrSyntax, "invalid character "+strconv.QuoteRune(rune(c))+" looking for a value")
	}
}

func (d *Decoder) literal(lit string) bool {
	if d.i >= len(d.s) {
		return false
	}
	if strings.HasPrefix(d.s[d.i:], lit) {
		d.i += len(lit)
		return true
	}
	if d.err == nil && d.s[d.i] == lit[0] {
		d.fail(ErrSyntax, "invalid literal")
	}
	return false
}

func (d *Decoder) typeError(want string) {
	if d.err != nil {
		return
	}
	got := "invalid character"
	switch d.Peek() {
	case KindObject:
		got = "object"
	case KindArray:
		got = "array"
	case KindString:
		got = "string"
	case KindNumber:
		got = "number"
	case KindBool:
		got = "boolean"
	case KindNull:
		got = "null"
	case KindNone:
		if d.i >= len(d.s) {
			d.fail(ErrSyntax, "unexpected end of input")
			return
		}
		d.fail(ErrSyntax, "invalid character "+strconv.QuoteRune(rune(d.s[d.i]))+" looking for a value")
		return
	}
	d.fail(ErrType, "expected "+want+", found "+got)
}

// number consumes a JSON number, validating its grammar.
func (d *Decoder) number() {
	s, i := d.s, d.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		d.i = i
		d.fail(ErrSyntax, "invalid number")
		return
	}
	if s[i] == '0' {
		i++
	} else if s[i] >= '1' && s[i] <= '9' {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	} else {
		d.i = i
		d.fail(ErrSyntax, "invalid number")
		return
	}
	if i < len(s) && s[i] == '.' {
		i++
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			d.i = i
			d.fail(ErrSyntax, "invalid number")
			return
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		j := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == j {
			d.i = i
			d.fail(ErrSyntax, "invalid number")
			return
		}
	}
	d.i = i
}

func atoi(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	neg := false
	i := 0
	if s[0] == '-' {
		neg = true
		i = 1
		if len(s) == 1 {
			return 0, false
		}
	}
	var n int64
	for ; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// strStop marks bytes that end the fast scan of a string: the closing quote,
// a backslash, and control characters (invalid in JSON strings).
var strStop = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

const (
	lsb     = 0x0101010101010101
	msb     = 0x8080808080808080
	quotes  = '"' * lsb
	slashes = '\\' * lsb
)

// plain8 reports whether none of the 8 bytes of s at i is a quote, a
// backslash or a control character (a SWAR test on one 64-bit load).
func plain8(s string, i int) bool {
	_ = s[i+7] // one bounds check; then one unaligned 8-byte load
	x := *(*uint64)(unsafe.Add(unsafe.Pointer(unsafe.StringData(s)), i))
	q := x ^ quotes
	b := x ^ slashes
	return ((q-lsb)&^q|(b-lsb)&^b|(x-0x20*lsb)&^x)&msb == 0
}

// scanPlain returns the index of the first quote, backslash or control
// character in s at or after i, or len(s).
func scanPlain(s string, i int) int {
	for i+8 <= len(s) && plain8(s, i) {
		i += 8
	}
	for i < len(s) && !strStop[s[i]] {
		i++
	}
	return i
}

// str reads a string starting at the opening quote.
func (d *Decoder) str() string {
	s := d.s
	i := d.i + 1
	start := i
	i = scanPlain(s, i)
	if i < len(s) && s[i] == '"' {
		d.i = i + 1
		return s[start:i]
	}
	d.i = i
	return d.unescape(start)
}

// skipStr skips a string starting at the opening quote.
func (d *Decoder) skipStr() {
	s := d.s
	i := d.i + 1
	for i < len(s) {
		i = scanPlain(s, i)
		if i >= len(s) {
			break
		}
		c := s[i]
		switch {
		case c == '"':
			d.i = i + 1
			return
		case c == '\\':
			if i+1 >= len(s) {
				d.i = i
				d.fail(ErrSyntax, "unexpected end of input in string")
				return
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex4(s[i+2:i+6]) {
					d.i = i
					d.fail(ErrSyntax, "invalid \\u escape in string")
					return
				}
				i += 6
			default:
				d.i = i
				d.fail(ErrSyntax, "invalid escape in string")
				return
			}
		default:
			d.i = i
			d.fail(ErrSyntax, "control character in string")
			return
		}
	}
	d.i = i
	d.fail(ErrSyntax, "unexpected end of input in string")
}

func isHex4(s string) bool {
	for i := 0; i < 4; i++ {
		if hexVal(s[i]) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func hex4(s string) rune {
	return rune(hexVal(s[0])<<12 | hexVal(s[1])<<8 | hexVal(s[2])<<4 | hexVal(s[3]))
}

// unescape continues reading a string whose content starts at start and
// whose fast scan stopped at d.i on a backslash or control character.
// Lone surrogates become U+FFFD, as encoding/json does.
func (d *Decoder) unescape(start int) string {
	s := d.s
	i := d.i
	buf := make([]byte, 0, i-start+16)
	buf = append(buf, s[start:i]...)
	for i < len(s) {
		c := s[i]
		if !strStop[c] {
			buf = append(buf, c)
			i++
			continue
		}
		switch {
		case c == '"':
			d.i = i + 1
			return string(buf)
		case c == '\\':
			if i+1 >= len(s) {
				d.i = i
				d.fail(ErrSyntax, "unexpected end of input in string")
				return ""
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				buf = append(buf, e)
				i += 2
			case 'b':
				buf = append(buf, '\b')
				i += 2
			case 'f':
				buf = append(buf, '\f')
				i += 2
			case 'n':
				buf = append(buf, '\n')
				i += 2
			case 'r':
				buf = append(buf, '\r')
				i += 2
			case 't':
				buf = append(buf, '\t')
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex4(s[i+2:i+6]) {
					d.i = i
					d.fail(ErrSyntax, "invalid \\u escape in string")
					return ""
				}
				r := hex4(s[i+2 : i+6])
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' && isHex4(s[i+2:i+6]) {
						if dec := utf16.DecodeRune(r, hex4(s[i+2:i+6])); dec != utf8.RuneError {
							r2 = dec
							i += 6
						}
					}
					r = r2
				}
				buf = utf8.AppendRune(buf, r)
			default:
				d.i = i
				d.fail(ErrSyntax, "invalid escape in string")
				return ""
			}
		default:
			d.i = i
			d.fail(ErrSyntax, "control character in string")
			return ""
		}
	}
	d.i = i
	d.fail(ErrSyntax, "unexpected end of input in string")
	return ""
}
