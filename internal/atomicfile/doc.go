// Package atomicfile writes small private files atomically and reads them
// back only when no user but their owner can have changed them.
//
// Write (or Create, then Commit) puts the new content in a temporary file
// beside the destination, syncs it, renames it over the destination and
// syncs the directory: a crash leaves the old content or the new one,
// never a mix. Commit's error says which a failure left: one wrapping
// ErrNotDurable comes after the rename, when the directory could not be
// synced, and the new content is in place (a caller keeping a copy of
// what it wrote takes it as written); after any other the destination is
// as it was. A destination that is a symbolic link is written where the
// link leads, so the link stays. ReplaceWithin does the same for a file
// that exists under a directory, keeping its mode, owner, group and (on
// Linux) extended attributes, or leaves it as it is when a new file
// cannot have them or the path leads out of the directory.
//
// ReadPrivate refuses (with a *PermissionError naming what to chmod) a
// file that group or others may write, and a file in a directory — its
// own or any above it, along the path as given and along the path its
// symbolic links lead to — in which group or others may replace it, that
// is a directory they may write that lacks the sticky bit. Like OpenSSH's
// StrictModes, it also refuses (naming what to chown) such a file or
// directory owned by a user other than the process's effective user and
// root, who may change it whatever its mode. Outside Unix the mode bits
// and owners do not say who may write, and every file is accepted.
package atomicfile
