package router

import "net/http"

// notFoundPage is shown for hosts that name no app, like Heroku's "no such
// app" page, so that a typo in a URL is told apart from a broken app.
const notFoundPage = `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>No such app | hako</title>
<style>body{font-family:sans-serif;background:#f7f8fb;color:#3f3f44;text-align:center;margin-top:15vh}h1{font-size:1.6em}</style>
</head>
<body>
<h1>hako</h1>
<p>There's nothing here, yet.</p>
<p>No such app: check the address, or create the app and push to it.</p>
</body>
</html>
`

// appErrorPage is Heroku's "Application error" page, shown whenever the
// router could not get a response from the app; the code explaining why
// is in the app's log, never on the page.
const appErrorPage = `<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Application Error</title>
<style>body{font-family:sans-serif;background:#f7f8fb;color:#3f3f44;text-align:center;margin-top:15vh}h1{font-size:1.6em}</style>
</head>
<body>
<h1>Application error</h1>
<p>An error occurred in the application and your page could not be served. If you are the application owner, check your logs for details.</p>
</body>
</html>
`

func writeNotFound(w http.ResponseWriter) {
	writePage(w, http.StatusNotFound, notFoundPage)
}

func writeAppError(w http.ResponseWriter) {
	writePage(w, http.StatusServiceUnavailable, appErrorPage)
}

func writePage(w http.ResponseWriter, status int, page string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache, no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(page))
}

// maintenancePage is what an app in maintenance mode shows, as Heroku's
// "Offline for Maintenance" page.
const maintenancePage = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Offline for Maintenance</title></head>
<body style="font-family: sans-serif; text-align: center; margin-top: 15%">
<h1>Offline for Maintenance</h1>
<p>This app is in maintenance mode. Please check back in a moment.</p>
<p><small>hako</small></p>
</body>
</html>
`
