"""The tap as a mitmproxy addon: the same judging, for people who already run mitmproxy.

    pip install 'responses-conformance[mitm]'
    mitmdump --mode reverse:https://api.openai.com -s "$(python -m responses_conformance.tap_mitm)"
    mitmdump -s "$(python -m responses_conformance.tap_mitm)" --set rc_reports=reports \\
        --set rc_profile=openai --set rc_redact_header=x-tenant

(`python -m responses_conformance.tap_mitm` prints the path of this file.) In reverse mode it is
the tap; as a regular proxy with mitmproxy's CA trusted by the client, it judges clients whose
base URL cannot be changed (HTTPS interception: `HTTPS_PROXY=http://127.0.0.1:8080` and the
mitmproxy CA in the client's trust store). What is judged is what `responses-conformance tap`
judges, by the same judges (`tap_judge.HttpJudge`, `WsJudge`, `Recorder`): a Responses
exchange is streamed (`flow.response.stream`, so mitmproxy does not buffer it) and its chunks
fed to the engine as they pass; findings print as they happen; when mitmproxy stops,
results.json, report.html, junit.xml and the transcripts are written to `rc_reports`, and the
last line states the verdict (mitmproxy's exit status is its own: read results.json).

Nothing of mitmproxy is imported here: the flows mitmproxy hands the hooks are read by their
attributes, so the addon is tested without mitmproxy installed.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from responses_conformance.engine import profiles
from responses_conformance.tap_judge import HttpJudge, Recorder, TapOptions, WsJudge, _header, _responses_route, plan_for

__all__ = ["ResponsesConformance", "addons"]


class ResponsesConformance:
    """The addon. Options: rc_reports (folder), rc_profile, rc_redact_header (comma-separated),
    rc_transcripts (bool), rc_max_transcripts."""

    def __init__(self, options: TapOptions | None = None, out: Any = None) -> None:
        self.options = options
        self.out = out
        self.recorder: Recorder | None = None
        self._judges: dict[int, HttpJudge] = {}
        self._sockets: dict[int, WsJudge] = {}
        self._ended = False

    # -- mitmproxy's hooks ----------------------------------------------------------------------
    def load(self, loader: Any) -> None:
        loader.add_option("rc_reports", str, "reports", "responses-conformance: where the reports go")
        loader.add_option("rc_profile", str, profiles.DEFAULT,
                          "responses-conformance: the profile (openai, openai-strict, openresponses)")
        loader.add_option("rc_redact_header", str, "",
                          "responses-conformance: request headers whose values are secrets (comma-separated)")
        loader.add_option("rc_transcripts", bool, True, "responses-conformance: write transcripts")
        loader.add_option("rc_max_transcripts", int, 1000, "responses-conformance: transcripts kept")

    def configure(self, updated: Any) -> None:
        if self.options is not None and self.recorder is not None:
            return
        from mitmproxy import ctx  # only reached inside mitmproxy

        o = ctx.options
        self.options = TapOptions(
            upstream=_mode_upstream(getattr(o, "mode", None)), host="mitmproxy", port=0, profile=o.rc_profile,
            reports_dir=Path(o.rc_reports), transcripts=o.rc_transcripts, max_transcripts=o.rc_max_transcripts,
            redact_headers=frozenset(n.strip().lower() for n in o.rc_redact_header.split(",") if n.strip()))
        self.recorder = None

    def running(self) -> None:
        self._recorder()

    def responseheaders(self, flow: Any) -> None:
        recorder = self._recorder()
        request, response = flow.request, flow.response
        path, _, query = request.path.partition("?")
        body = request.raw_content
        headers = [(k, v) for k, v in request.headers.items(multi=True)]
        encoded = (_header(headers, "content-encoding") or "identity").strip().lower() != "identity"
        plan = plan_for(request.method, path, query, None if encoded else body)
        if plan is None:
            recorder.next_number()
            recorder.pass_through(request.method, path)
            return
        number = recorder.next_number()
        judge = HttpJudge(recorder, number, plan, method=request.method, url=request.pretty_url,
                          request_headers=headers, request_body=body)
        judge.head(response.status_code, [(k, v) for k, v in response.headers.items(multi=True)])
        self._judges[id(flow)] = judge

        def chunks(data: bytes) -> bytes:  # mitmproxy calls it per chunk, and with b"" at the end
            if data:
                judge.body(data)
            else:
                self._judges.pop(id(flow), None)
                judge.close("eof")
            return data

        response.stream = chunks

    def error(self, flow: Any) -> None:
        judge = self._judges.pop(id(flow), None)
        if judge is not None:
            message = str(getattr(flow.error, "msg", flow.error))
            end = "client_disconnected" if "client" in message.lower() else "upstream_error"
            judge.close(end, message)

    def websocket_start(self, flow: Any) -> None:
        recorder = self._recorder()
        path = flow.request.path.partition("?")[0]
        recorder.ws_connections += 1
        if _responses_route(path) != ("create", None):
            recorder.pass_through("WEBSOCKET", path)
            return
        headers = [(k, v) for k, v in flow.request.headers.items(multi=True)]
        self._sockets[id(flow)] = WsJudge(recorder, f"WEBSOCKET {path}", headers, flow.request.pretty_url)

    def websocket_message(self, flow: Any) -> None:
        judge = self._sockets.get(id(flow))
        if judge is None:
            return
        message = flow.websocket.messages[-1]
        data = message.text if message.is_text else message.content
        if message.from_client:
            judge.client_message(data)
        else:
            judge.server_message(data)

    def websocket_end(self, flow: Any) -> None:
        judge = self._sockets.pop(id(flow), None)
        if judge is None:
            return
        websocket = flow.websocket
        by = "client" if getattr(websocket, "closed_by_client", False) else "server"
        judge.closed(by, getattr(websocket, "close_code", None), str(getattr(websocket, "close_reason", "") or ""))

    def done(self) -> None:
        if self._ended or self.recorder is None:
            return
        self._ended = True
        recorder = self.recorder
        for judge in list(self._judges.values()):
            judge.close("tap_stopped")
        for socket in list(self._sockets.values()):
            socket.abandon()
        recorder.ended_by = recorder.ended_by or "mitmproxy stopped"
        for problem in recorder.write_outputs():
            print(f"responses-conformance (mitmproxy): {problem}", file=sys.stderr)
        for line in recorder.summary_lines():
            recorder.say(line, always=True)

    # -- helpers ----------------------------------------------------------------------------------
    def _recorder(self) -> Recorder:
        if self.recorder is None:
            if self.options is None:
                self.options = TapOptions(upstream="(mitmproxy)", host="mitmproxy", port=0)
            self.recorder = Recorder(self.options, out=self.out)
        return self.recorder


def _mode_upstream(mode: Any) -> str:
    """The upstream of a reverse-mode mitmproxy (`reverse:https://host`), else what mitmproxy proxies."""
    for spec in mode or []:
        text = str(spec)
        if text.startswith("reverse:"):
            return text[len("reverse:"):].split("@", 1)[0]
    return "(the hosts the clients ask for, through mitmproxy)"


addons = [ResponsesConformance()]


if __name__ == "__main__":  # the path to give mitmproxy's -s
    print(Path(__file__).resolve())
