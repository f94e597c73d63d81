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
  document.addEventListener('click', function (e) {
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
  /* report.html#rc=<key> opens that finding, as a click on its cell would. */
  window.addEventListener('load', function () {
    var match = /^#rc=(.+)$/.exec(window.location.hash);
    if (!match) { return; }
    var key = decodeURIComponent(match[1]);
    var links = document.querySelectorAll('a.rc-jump');
    for (var i = 0; i < links.length; i++) {
      if (links[i].getAttribute('data-key') === key) { open(links[i]); return; }
    }
  });
})();
