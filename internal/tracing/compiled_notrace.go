//go:build notrace

package tracing

// Compiled is false: this binary was built with the notrace tag (see
// compiled.go).
const Compiled = false
