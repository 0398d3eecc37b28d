package config

import (
	"fmt"
	"slices"
	"strings"
)

// Error is one problem found in a configuration file. Its message is meant
// for the person who wrote the file: it names the key and, where there is
// one, the repo and mirror the problem belongs to.
type Error struct {
	File string // the file as it was named to Load or Parse
	Line int    // 1-based line of the offending key or value; 0 when unknown
	Msg  string

	err error // underlying error, if any, for errors.Is
}

// Error returns "FILE:LINE: msg", or "FILE: msg" when the line is unknown
// (some YAML syntax errors carry no position).
func (e *Error) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// Unwrap returns the underlying error, such as the *fs.PathError of a file
// that cannot be read, or nil.
func (e *Error) Unwrap() error { return e.err }

// Errors is every problem found in a configuration file, in line order.
// Load and Parse return a *Errors as their error when there is at least one;
// errors.As finds it with a target of type **Errors or *Errors.
type Errors []*Error

// Error returns one problem per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// As lets errors.As find the list with a target of type *Errors as well as
// **Errors.
func (es Errors) As(target any) bool {
	if t, ok := target.(*Errors); ok {
		*t = es
		return true
	}
	return false
}

// Unwrap returns the problems, so that errors.Is and errors.As look at each.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// sort orders the problems by line, keeping the order in which problems on
// the same line were found.
func (es Errors) sort() {
	slices.SortStableFunc(es, func(a, b *Error) int { return a.Line - b.Line })
}

// asError returns nil for an empty list and a *Errors otherwise, so that a
// caller's err != nil test works.
func (es Errors) asError() error {
	if len(es) == 0 {
		return nil
	}
	es.sort()
	return &es
}
