package compiler_test

// maxrssUnit is the unit of Rusage.Maxrss: KiB on Linux.
const maxrssUnit = 1024
