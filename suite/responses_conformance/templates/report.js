/* responses-conformance: a matrix cell opens its finding. pytest-html renders its rows from a
   JSON blob and redraws the table on every toggle, so the row is found again by its id (the
   test id), expanded through pytest-html's own toggle, and the block scrolled to. The same
   code serves a standalone page, where the block is always there. No network, no library. */
(function () {
  'use strict';
  function shown(el) { return !!el && el.offsetParent !== null; }
  function open(link) {
    var blockId = link.getAttribute('data-block'), rowId = link.getAttribute('data-row');
    var block = blockId && document.getElementById(blockId);
    if (rowId && !shown(block)) {
      var row = document.getElementById(rowId);
      if (!row) { /* filtered out by pytest-html's check boxes: show every outcome again */
        Array.prototype.forEach.call(document.querySelectorAll('input[name="filter_checkbox"]'), function (box) {
          if (!box.checked && !box.disabled) { box.click(); }
        });
        row = document.getElementById(rowId);
      }
      var extras = row && row.querySelector('.extras-row');
      if (extras && extras.classList.contains('hidden')) {
        var toggle = row.querySelector('.collapsible td.col-result') || row.querySelector('.collapsible td');
        if (toggle) { toggle.click(); }
      }
      block = (blockId && document.getElementById(blockId)) || document.getElementById(rowId);
    }
    if (!block) { return false; }
    var body = block.querySelector('details.rc-finding-body');
    if (body) { body.open = true; }
    Array.prototype.forEach.call(document.querySelectorAll('.rc-target'), function (el) { el.classList.remove('rc-target'); });
    var event = block.querySelector('tr.rc-offending') || block.querySelector('.rc-offending');
    block.classList.add('rc-target');
    if (event) { event.classList.add('rc-target'); }
    /* Vertically only: pytest-html's table is often wider than the window. */
    window.scrollTo(0, block.getBoundingClientRect().top + window.pageYOffset - 8);
    if (event && event.getBoundingClientRect().bottom > window.innerHeight) {
      window.scrollTo(0, event.getBoundingClientRect().top + window.pageYOffset - window.innerHeight / 2);
    }
    var seen = event || block, box = seen.getBoundingClientRect();
    var root = document.documentElement; /* what was opened, for people and for tests that read the DOM */
    root.setAttribute('data-rc-open', link.getAttribute('data-key') || '');
    root.setAttribute('data-rc-open-visible', shown(seen) && box.top >= 0 && box.bottom <= window.innerHeight ? 'yes' : 'no');
    root.setAttribute('data-rc-page-height', String(root.scrollHeight));
    return true;
  }
  /* In pytest-html's page our verdict goes first, above its Environment table. */
  (function () {
    var summary = document.getElementById('rc-summary'), env = document.getElementById('environment-header');
    if (summary && env && env.parentNode && (summary.compareDocumentPosition(env) & Node.DOCUMENT_POSITION_PRECEDING)) {
      env.parentNode.insertBefore(summary, env);
    }
  })();
  function openEvidence(link) {
    var id = (link.getAttribute('href') || '').slice(1), entry = id && document.getElementById(id);
    if (!entry) { return false; }
    var box = document.getElementById('rc-evidence');
    if (box) { box.open = true; }
    Array.prototype.forEach.call(document.querySelectorAll('.rc-evidence dt.rc-target'), function (el) { el.classList.remove('rc-target'); });
    entry.classList.add('rc-target');
    window.scrollTo(0, entry.getBoundingClientRect().top + window.pageYOffset - 8);
    return true;
  }
  document.addEventListener('click', function (e) {
    var ev = e.target.closest && e.target.closest('a.rc-ev');
    if (ev) {
      if (openEvidence(ev)) { e.preventDefault(); }
      return;
    }
    var link = e.target.closest && e.target.closest('a.rc-jump');
    if (link) {
      e.preventDefault();
      if (open(link) && window.history && history.replaceState) { history.replaceState(null, '', link.getAttribute('href')); }
      return;
    }
    var button = e.target.closest && e.target.closest('button.rc-copy');
    if (button) {
      var pre = button.parentNode.querySelector('pre');
      var text = pre ? pre.textContent : '';
      var done = function () { button.textContent = 'copied'; };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () { select(pre); });
      } else { select(pre); }
    }
  });
  function select(pre) {
    var range = document.createRange();
    range.selectNodeContents(pre);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  function measure() {
    /* What the page measures once drawn, for tests that read the DOM: does it fit its window? */
    var root = document.documentElement;
    root.setAttribute('data-rc-scroll-width', String(root.scrollWidth));
    root.setAttribute('data-rc-window-width', String(window.innerWidth));
    var widest = null;
    Array.prototype.forEach.call(document.querySelectorAll('body *'), function (el) {
      var right = el.getBoundingClientRect().right;
      if (right > window.innerWidth && (!widest || right > widest.right)) { widest = { right: right, el: el }; }
    });
    if (widest) { root.setAttribute('data-rc-widest', widest.el.tagName.toLowerCase() + '.' + (widest.el.className || '') + '#' + (widest.el.id || '') + ':' + Math.round(widest.right)); }
  }
  /* report.html#rc=<key> opens that finding, as a click on its cell would. */
  /* report.html#rc-cause=<check id> opens that cause's list of occurrences. */
  window.addEventListener('load', function () {
    var cause = /^#rc-cause=(.+)$/.exec(window.location.hash);
    if (cause) {
      var wanted = decodeURIComponent(cause[1]);
      Array.prototype.forEach.call(document.querySelectorAll('.rc-cause-item'), function (li) {
        if (li.getAttribute('data-check') === wanted) {
          var details = li.querySelector('details');
          if (details) { details.open = true; }
          document.documentElement.setAttribute('data-rc-cause-open', wanted);
        }
      });
    }
    var match = /^#rc=(.+)$/.exec(window.location.hash);
    if (match) {
      var key = decodeURIComponent(match[1]);
      var links = document.querySelectorAll('a.rc-jump');
      for (var i = 0; i < links.length; i++) {
        if (links[i].getAttribute('data-key') === key) { open(links[i]); break; }
      }
    }
    measure();
  });
})();
