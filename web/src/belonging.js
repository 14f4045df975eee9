// Loaded (not deferred) from <head>. Replaces the inline snippet in the
// NHS.UK page template, which a strict CSP forbids: the `js-enabled` class
// switches on the JavaScript-only styles (header "More" menu etc.).
// nhsuk.min.js initialises its components by itself on DOMContentLoaded.
document.documentElement.className += ' js-enabled';
