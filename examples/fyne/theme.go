package main

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// dashTheme is Fyne's default theme on the dashboard's background. The
// window and the headless test app both use it, so that they draw the
// same: the test app's own theme has colours of its own. The background
// is the theme's, which every canvas paints first anyway, rather than a
// rectangle over it that the software renderer would paint again.
type dashTheme struct{ fyne.Theme }

func newTheme() fyne.Theme { return dashTheme{theme.DefaultTheme()} }

func (t dashTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if n == theme.ColorNameBackground {
		return backgroundColor
	}
	return t.Theme.Color(n, v)
}
