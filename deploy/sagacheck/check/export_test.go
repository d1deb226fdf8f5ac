package check

// SetHook installs a function the check calls between two of its reads
// (nil removes it), so that a test can play a saga finishing, or retention
// running, at the worst moment.
func SetHook(f func(point string)) { hook = f }
