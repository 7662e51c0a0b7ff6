"""The matting service's one connection to the segmentation service."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import requests
from PIL import Image
from requests.adapters import HTTPAdapter

from background_replacement.people import EVERYONE, PeopleChoice
from background_replacement.service_common.api_keys import HEADER
from background_replacement.service_common.errors import ApiError
from background_replacement.service_common.form_fields import TrimapParams


@dataclass(frozen=True)
class RemoteTrimap:
    """A trimap (uint8 H×W, 0/128/255) of the people kept (``people_count``), and what the
    segmentation service said about it (``found_count``: everyone it found)."""

    trimap: np.ndarray
    people_count: int
    segmenter: str
    server_timing: str
    found_count: int


@dataclass(frozen=True)
class RemotePeople:
    """The segmentation service's ``/people`` answer (JSON, passed on as it is)."""

    body: dict
    segmenter: str
    server_timing: str


class SegmentationClient:
    """One pooled HTTP session to ``base_url`` with connect and read timeouts; every failure
    becomes an ``ApiError`` (502 bad answer, 503 unreachable, 504 too slow) that says which
    service failed, never where it is (the address is internal)."""

    def __init__(self, base_url: str, connect_timeout: float, read_timeout: float,
                 pool_size: int = 16, api_key: str = ""):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self.session = requests.Session()
        if api_key:
            self.session.headers[HEADER] = api_key
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def trimap(self, image_bytes: bytes, params: TrimapParams,
               choice: PeopleChoice = EVERYONE) -> RemoteTrimap:
        """Send the original upload once and return the trimap of the people ``choice`` keeps,
        all background when nobody is found (the caller decides what no person means)."""
        form = params.to_form() | choice.to_form() | {"allow_empty": "true"}
        response = self._post("/trimap", image_bytes, form)
        try:
            trimap = np.asarray(Image.open(io.BytesIO(response.content)).convert("L"))
        except Exception:
            raise ApiError(502, "segmentation_bad_answer",
                           "The segmentation service answered something that is not a PNG "
                           "trimap.") from None
        people_count = int(response.headers.get("X-People-Count", "0"))
        return RemoteTrimap(trimap, people_count,
                            response.headers.get("X-Segmenter", "unknown"),
                            response.headers.get("Server-Timing", ""),
                            int(response.headers.get("X-People-Found", people_count)))

    def people(self, image_bytes: bytes, params: TrimapParams) -> RemotePeople:
        """The people found in the upload, one by one (``POST /people``'s JSON)."""
        response = self._post("/people", image_bytes,
                              {"score_threshold": str(params.score_threshold)})
        try:
            body = response.json()
            if not isinstance(body.get("people"), list):
                raise ValueError("no list of people")
        except Exception:
            raise ApiError(502, "segmentation_bad_answer",
                           "The segmentation service answered something that is not its "
                           "list of people.") from None
        return RemotePeople(body, response.headers.get("X-Segmenter", "unknown"),
                            response.headers.get("Server-Timing", ""))

    def _post(self, path: str, image_bytes: bytes, form: dict[str, str]) -> requests.Response:
        """POST the upload and form to ``path``; a 200 answer, or the ``ApiError`` for any
        other."""
        try:
            response = self.session.post(f"{self.base_url}{path}", files={"image": image_bytes},
                                         data=form, timeout=self.timeout)
        except requests.Timeout:
            raise ApiError(504, "segmentation_timeout",
                           f"The segmentation service did not answer within {self.timeout[1]:g} s.",
                           {"Retry-After": "5"}) from None
        except requests.ConnectionError:
            raise ApiError(503, "segmentation_unavailable",
                           "The segmentation service cannot be reached.",
                           {"Retry-After": "5"}) from None
        except requests.RequestException as exc:  # e.g. the connection broke mid-answer
            raise ApiError(502, "segmentation_failed",
                           "The segmentation service broke off its answer "
                           f"({type(exc).__name__}).") from None
        if response.status_code != 200:
            raise self._error_from(response)
        return response

    def _error_from(self, response: requests.Response) -> ApiError:
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except Exception:
            code, message = "unknown", response.text[:200]
        if _refuses_the_key(response):
            # The segmentation service wants a key this service was not given (or, after many
            # such requests, locks it out): a set-up fault, not the client's.
            return ApiError(502, "segmentation_forbidden",
                            f"The segmentation service refused this service's API key ({code}); "
                            "set SEGMENTATION_API_KEY to one of its keys.")
        if response.status_code < 500:
            # The client's own mistake (bad image, parameter, no person): pass it on as it is.
            return ApiError(response.status_code, code, message)
        if response.status_code == 503:
            retry = response.headers.get("Retry-After", "2")
            return ApiError(503, "segmentation_unavailable",
                            f"The segmentation service is unavailable ({code}: {message}).",
                            {"Retry-After": retry})
        return ApiError(502, "segmentation_failed",
                        f"The segmentation service failed ({response.status_code} {code}: "
                        f"{message}).")

    def unready_reason(self) -> str:
        """Why the segmentation service cannot serve this one now, or "" when it can: it must
        answer ``/readyz`` quickly, and accept this service's key there (the session sends it
        on every request, and a service with keys checks every key it is sent)."""
        try:
            response = self.session.get(f"{self.base_url}/readyz", timeout=(1.0, 2.0))
        except requests.RequestException:
            return "The segmentation service cannot be reached."
        if _refuses_the_key(response):
            return "The segmentation service refuses this service's SEGMENTATION_API_KEY."
        return "" if response.ok else "The segmentation service is not ready."


def _refuses_the_key(response: requests.Response) -> bool:
    """Whether the segmentation service refused this service's key: 403, or 429 once it has
    refused it too often (``service_common.api_keys``)."""
    if response.status_code == 403:
        return True
    try:
        return response.status_code == 429 and \
            response.json()["error"]["code"] == "too_many_wrong_keys"
    except (ValueError, KeyError, TypeError):
        return False
