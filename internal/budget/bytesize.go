package budget

import (
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// ByteSize is a flag value of bytes, written as a whole number with an
// optional unit: B, KiB, MiB, GiB or TiB.
type ByteSize int64

var _ flag.Value = (*ByteSize)(nil)

var byteUnits = []struct {
	name string
	size int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// String writes s in the largest unit that divides it.
func (s ByteSize) String() string {
	for _, u := range byteUnits {
		if s != 0 && int64(s)%u.size == 0 {
			return strconv.FormatInt(int64(s)/u.size, 10) + " " + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + " B"
}

// Set parses a size such as "512MiB", "1 GiB" or "1048576".
func (s *ByteSize) Set(text string) error {
	num, unit := strings.TrimSpace(text), int64(1)
	for _, u := range byteUnits {
		if n, ok := strings.CutSuffix(num, u.name); ok {
			num, unit = strings.TrimSpace(n), u.size
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/unit {
		return fmt.Errorf("invalid size %q: want a number of bytes with an optional unit B, KiB, MiB, GiB or TiB, such as 512MiB", text)
	}
	*s = ByteSize(n * unit)
	return nil
}
