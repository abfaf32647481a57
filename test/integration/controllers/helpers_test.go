// Package controllers tests the mailbox controller and the where-resolver against a real
// space server.
package controllers
