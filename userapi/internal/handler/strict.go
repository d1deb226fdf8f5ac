package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"sagasuite/userapi/internal/apierr"
)

// fieldTypes maps each JSON name of a request struct to its Go type.
type fieldTypes map[string]reflect.Type

var fieldCache sync.Map // reflect.Type → fieldTypes

// fieldsOf lists the JSON fields of the struct dst points to, by their
// exact tag names: the request bodies are flat structs of strings and
// integers, so the names and types are all checkObject needs.
func fieldsOf(dst any) fieldTypes {
	t := reflect.TypeOf(dst)
	if cached, ok := fieldCache.Load(t); ok {
		return cached.(fieldTypes)
	}
	fields := fieldTypes{}
	st := t
	for st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if st.Kind() == reflect.Struct {
		for i := range st.NumField() {
			f := st.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fields[name] = f.Type
		}
	}
	fieldCache.Store(t, fields)
	return fields
}

// checkObject refuses, in the order they occur in body, everything that
// encoding/json would accept but read differently from another parser or
// from what the client meant: bytes that are not UTF-8 (and escapes of
// lone UTF-16 surrogates), keys that are not exactly a field's name (Go
// matches case-insensitively), a key given twice (Go keeps the last), null
// (Go keeps the zero value), and nested values. It also refuses values of
// the wrong type, bodies that are not one object and malformed JSON, so
// that the field it names is the first one at fault.
func checkObject(body []byte, fields fieldTypes) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var last int64
	// next reads one token and returns the bytes it consumed, including the
	// whitespace and separators before it, so that every byte of the body
	// is checked exactly once.
	next := func() (json.Token, []byte, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		off := dec.InputOffset()
		raw := body[last:off]
		last = off
		return tok, raw, nil
	}
	notJSON := apierr.BadField("", "the body is not valid JSON")

	tok, raw, err := next()
	switch {
	case err != nil:
		return notJSON
	case !cleanText(raw):
		return apierr.BadField("", "the body must be valid UTF-8")
	case tok != json.Delim('{'):
		return apierr.BadField("", "the body must be a JSON object")
	}
	seen := make(map[string]bool, len(fields))
	for dec.More() {
		tok, raw, err := next()
		if err != nil {
			return notJSON
		}
		if !cleanText(raw) {
			return apierr.BadField("", "the body must be valid UTF-8")
		}
		key, _ := tok.(string) // the decoder allows only strings here
		typ, known := fields[key]
		switch {
		case !known:
			return apierr.BadField(key, "unknown field "+key)
		case seen[key]:
			return apierr.BadField(key, key+" must not be given more than once")
		}
		seen[key] = true

		tok, raw, err = next()
		switch {
		case err != nil:
			return notJSON
		case !cleanText(raw):
			return apierr.BadField(key, key+" must be valid UTF-8")
		}
		if err := checkValue(key, typ, tok); err != nil {
			return err
		}
	}
	if _, _, err := next(); err != nil { // the closing '}'
		return notJSON
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apierr.BadField("", "the body must hold a single JSON object")
	}
	return nil
}

// checkValue refuses null, nested values and values whose JSON type does
// not fit the field's Go type. Integers must fit the field and be written
// without fraction or exponent, as encoding/json requires.
func checkValue(key string, typ reflect.Type, tok json.Token) error {
	kind := typ.Kind()
	switch v := tok.(type) {
	case nil:
		return apierr.BadField(key, key+" must not be null")
	case json.Delim:
		return wrongType(key, kind)
	case string:
		if kind != reflect.String {
			return wrongType(key, kind)
		}
	case json.Number:
		switch kind {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			if _, err := strconv.ParseInt(string(v), 10, typ.Bits()); err != nil {
				if errors.Is(err, strconv.ErrRange) {
					return apierr.BadField(key, key+" is out of range")
				}
				return wrongType(key, kind)
			}
		default:
			return wrongType(key, kind)
		}
	case bool:
		if kind != reflect.Bool {
			return wrongType(key, kind)
		}
	}
	return nil
}

func wrongType(key string, kind reflect.Kind) error {
	return apierr.BadField(key, key+" must be a JSON "+jsonType(kind.String()))
}

// cleanText reports whether raw, a stretch of JSON source, is UTF-8 and
// escapes no lone UTF-16 surrogate. encoding/json turns both into U+FFFD
// without a word, so the value decoded would not be the one sent.
func cleanText(raw []byte) bool {
	if !utf8.Valid(raw) {
		return false
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if i+1 >= len(raw) || raw[i+1] != 'u' {
			i++ // a two-byte escape such as \" or \\
			continue
		}
		r, ok := hex4(raw, i+2)
		if !ok {
			return false
		}
		i += 5
		switch {
		case r >= 0xDC00 && r <= 0xDFFF: // low surrogate without a high one
			return false
		case r >= 0xD800 && r <= 0xDBFF: // high: a low must follow at once
			if i+2 >= len(raw) || raw[i+1] != '\\' || raw[i+2] != 'u' {
				return false
			}
			low, ok := hex4(raw, i+3)
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}

// hex4 decodes the four hex digits at raw[at:].
func hex4(raw []byte, at int) (rune, bool) {
	if at+4 > len(raw) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(raw[at:at+4]), 16, 16)
	return rune(v), err == nil
}
