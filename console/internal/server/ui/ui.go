// Package ui holds the console's page, script and style, compiled into the
// binary so the console works offline and its CSP can forbid every other
// origin.
package ui

import "embed"

// Files is the page's root: index.html, console.js, console.css.
//
//go:embed index.html console.js console.css
var Files embed.FS
