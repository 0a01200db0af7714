"""Everyday and film phrasings of the world's facts, for the training grammar (world/prompts.py).

Written without sight of the evaluation's held-out phrasings (eval/paraphrase.py); the 57 entries
that the held-out set also uses (tests/test_paraphrase.py found them) were then taken out of these
lists, so training never sees them. The held-out set was not changed.
"""

# Camera moves, film convention: "pan left" = the camera turns to the left (so the picture content moves right);
# "tilt up" = the camera points higher; "zoom in" = magnify / get closer; "zoom out" = widen / get farther.
# Each phrase is a complete description of the move WITHOUT any speed word, lower case, 2-9 words.
CAMERA = {
    "pan left": [
        "pan left", "the camera pans left", "the camera pans to the left", "pan the camera left", "a pan to the left",
        "a leftward pan", "a left pan", "camera pan left", "panning left", "the camera swings to the left",
        "the camera turns left", "the camera turns to the left", "turn the camera left",
        "the camera rotates to the left", "the view pans left", "the shot pans left", "the camera sweeps leftward",
        "the camera sweeps to the left", "the lens swings left", "the viewpoint turns to the left", "we pan left",
        "we turn to the left", "we look over to the left", "look over to the left", "look to the left",
        "the viewer turns to look left", "the camera heads leftwards", "the camera swivels left",
        "swivel the camera to the left", "the camera pivots to the left", "pivot the view left",
        "the camera trucks left", "truck left", "a truck to the left", "the camera tracks left", "track left",
        "the camera crabs left", "the camera moves to the left", "the camera slides to the left",
        "the frame shifts to the left", "the shot swings toward the left-hand side", "the camera pans westward",
        "the camera yaws to the left", "the view swings round to the left", "the camera turns its gaze leftward",
        "the lens pans toward the left side", "the camera aims further left", "reframe to the left",
        "a horizontal pan to the left",
    ],
    "pan right": [
        "pan right", "the camera pans right", "the camera pans to the right", "pan the camera right",
        "a pan to the right", "a rightward pan", "a right pan", "camera pan right", "panning right",
        "the camera swings to the right", "the camera turns right", "the camera turns to the right",
        "turn the camera right", "the camera rotates to the right", "the view pans right", "the shot pans right",
        "the camera sweeps rightward", "the camera sweeps to the right", "the lens swings right",
        "the viewpoint turns to the right", "we pan right", "we turn to the right", "we look over to the right",
        "look over to the right", "look to the right", "the viewer turns to look right", "the camera heads rightwards",
        "the camera swivels right", "swivel the camera to the right", "the camera pivots to the right",
        "pivot the view right", "the camera trucks right", "truck right", "a truck to the right",
        "the camera tracks right", "track right", "the camera crabs right", "the camera moves to the right",
        "the camera slides to the right", "the frame shifts to the right",
        "the shot swings toward the right-hand side", "the camera pans eastward", "the camera yaws to the right",
        "the view swings round to the right", "the camera turns its gaze rightward",
        "the lens pans toward the right side", "the camera aims further right", "reframe to the right",
        "a horizontal pan to the right",
    ],
    "tilt up": [
        "tilt up", "the camera tilts up", "the camera tilts upward", "tilt the camera upwards", "a tilt up",
        "an upward tilt", "an upward camera tilt", "the camera looks up", "we look up", "we tilt up",
        "the viewer looks upward", "the camera points higher", "point the camera higher", "the camera aims higher",
        "the camera angles upward", "the view tilts up", "the shot tilts upwards", "the lens tilts skyward",
        "the camera looks skyward", "the camera tips up", "tip the camera upward", "the camera raises its view",
        "the camera pans up", "pan up", "the camera pedestals up", "pedestal up", "the camera cranes up", "crane up",
        "a crane up", "boom up", "the camera booms up", "the camera rises", "raise the camera",
        "the camera moves upward", "the camera turns upward", "the camera pivots upward",
        "the camera tilts toward the sky", "the camera tilts toward the top", "the frame tilts up",
        "the viewpoint rises", "the camera lifts up", "the camera tilts up toward the ceiling",
        "the camera swings upward", "the camera tilts to look higher", "the camera cranes higher",
    ],
    "tilt down": [
        "tilt down", "the camera tilts down", "the camera tilts downward", "tilt the camera downwards", "a tilt down",
        "a downward tilt", "a downward camera tilt", "the camera looks down", "we look down", "we tilt down",
        "the viewer looks downward", "the camera points lower", "point the camera lower", "the camera aims lower",
        "the camera angles downward", "the view tilts down", "the shot tilts downwards",
        "the lens tilts toward the ground", "the camera looks at the floor", "the camera tips down",
        "tip the camera downward", "the camera lowers its view", "the camera pans down", "pan down",
        "the camera pedestals down", "pedestal down", "the camera cranes down", "crane down", "a crane down",
        "boom down", "the camera booms down", "the camera descends", "lower the camera", "the camera moves downward",
        "the camera turns downward", "the camera pivots downward", "the camera tilts toward the floor",
        "the camera tilts toward the bottom", "the frame tilts down", "the viewpoint sinks", "the camera dips down",
        "the camera tilts down toward the ground", "the camera swings downward", "the camera tilts to look lower",
        "the camera goes lower",
    ],
    "zoom in": [
        "zoom in", "the camera zooms in", "zoom in closer", "the camera zooms in closer", "the camera zooms closer",
        "a zoom in", "a zoom-in", "we zoom in", "zoom the lens in", "the lens zooms in", "the view zooms in",
        "the shot zooms in", "the camera pushes in", "a push-in", "the camera pushes forward", "dolly in",
        "the camera dollies in", "a dolly in", "track in", "the camera tracks in", "the camera moves in",
        "the camera moves closer", "the camera moves nearer", "the camera gets closer", "get closer", "move in closer",
        "we move in closer", "the viewer gets closer", "the camera approaches", "the camera closes in", "close in",
        "the camera punches in", "punch in", "magnify the view", "the lens magnifies the scene", "enlarge the view",
        "the shot tightens", "tighten the shot", "the framing tightens", "the camera zooms tighter",
        "the field of view narrows", "the camera goes in for a close-up", "move in for a close-up",
        "the camera leans in", "a closer view",
    ],
    "zoom out": [
        "zoom out", "the camera zooms out", "zoom out wider", "the camera zooms wider", "a zoom out", "a zoom-out",
        "we zoom out", "zoom the lens out", "the lens zooms out", "the view zooms out", "the shot zooms out",
        "pull out", "the camera pulls back", "the camera pulls out", "a pull-back", "we pull back", "dolly out",
        "dolly back", "the camera dollies out", "a dolly out", "track out", "the camera tracks back",
        "the camera moves back", "the camera moves away", "the camera moves farther away", "move farther back",
        "the viewer moves farther away", "the camera backs away", "back away", "the camera steps back",
        "the camera retreats", "the view widens", "widen the shot", "the shot widens", "the framing widens",
        "the camera widens out", "the field of view widens", "the camera goes wide", "the frame opens up",
        "the camera reveals more of the scene", "reveal more of the scene", "a wider view", "the shot loosens",
    ],
    "static": [
        "static camera", "the camera is static", "a static shot", "the camera stays still", "keep the camera still",
        "a still camera", "the camera does not move", "the camera never moves", "the frame does not move",
        "no camera movement", "no camera motion", "a locked-off shot", "the camera is locked off", "locked-off camera",
        "the camera holds still", "the camera remains stationary", "a stationary camera", "the camera is fixed",
        "a fixed shot", "fixed camera", "the camera stays fixed in place", "the viewpoint stays fixed",
        "the shot holds steady", "hold the shot", "the camera holds its position", "the camera holds the frame",
        "the view stays put", "the camera stays put", "the camera is on a tripod", "a tripod shot",
        "the camera remains motionless", "the camera stays where it is", "the framing stays the same",
    ],
}
# Speed phrases (adverbs or adverbial phrases) that can follow a motion phrase, lower case.
SPEED = {
    "slow": [
        "slowly", "very slowly", "ever so slowly", "gently", "at a slow pace", "at a slow speed", "at low speed",
        "at a gentle pace", "at a measured pace", "without hurry", "in no hurry", "inch by inch", "a little at a time",
        "languidly", "lazily", "deliberately",
    ],
    "fast": [
        "quickly", "very quickly", "fast", "very fast", "rapidly", "hurriedly", "at high speed", "with great speed",
        "at a fast pace", "at a quick pace", "at a rapid pace", "at full speed", "at top speed", "at breakneck speed",
        "in a blur", "like a shot",
    ],
}
# Ways to say a motion direction in the 2-D image plane for an object (used after a verb); "up" is towards the top of the frame.
DIRECTION = {
    "right": [
        "right", "to the right", "rightward", "towards the right", "toward the right", "to the right-hand side",
        "towards the right edge", "toward the right side of the frame", "toward the right-hand edge",
        "over to the right", "across the frame to the right", "eastwards", "to the east", "in a rightward direction",
        "from left to right", "left to right across the frame", "to the right across the screen",
        "to the screen's right",
    ],
    "left": [
        "left", "to the left", "leftward", "towards the left", "toward the left", "to the left-hand side",
        "towards the left edge", "toward the left side of the frame", "toward the left-hand edge", "over to the left",
        "across the frame to the left", "westwards", "to the west", "in a leftward direction", "from right to left",
        "right to left across the frame", "to the left across the screen", "to the screen's left",
    ],
    "up": [
        "up", "upward", "toward the top", "towards the top of the frame", "to the top", "up toward the top edge",
        "up the screen", "higher", "higher up the frame", "skyward", "northwards", "to the north",
        "from bottom to top", "in an upward direction", "upward across the screen",
    ],
    "down": [
        "down", "downward", "toward the bottom", "towards the bottom of the frame", "to the bottom",
        "down toward the bottom edge", "down the screen", "lower", "lower down the frame", "groundward", "southwards",
        "to the south", "from top to bottom", "in a downward direction", "downward across the screen",
    ],
    "up-right": [
        "up and to the right", "up and right", "up to the right", "upward and to the right",
        "upwards and to the right", "up and rightward", "rightward and upward", "to the right and up",
        "diagonally up and to the right", "diagonally up-right", "diagonally toward the top right",
        "on a diagonal up to the right", "toward the top right", "towards the top-right corner", "to the upper right",
        "toward the upper-right corner", "toward the upper right of the frame", "northeast", "to the northeast",
        "from bottom left to top right", "in the up-right direction",
    ],
    "up-left": [
        "up and to the left", "up and left", "up to the left", "upward and to the left", "upwards and to the left",
        "up and leftward", "leftward and upward", "to the left and up", "diagonally up and to the left",
        "diagonally up-left", "diagonally toward the top left", "on a diagonal up to the left", "toward the top left",
        "towards the top-left corner", "to the upper left", "toward the upper-left corner",
        "toward the upper left of the frame", "northwest", "to the northwest", "from bottom right to top left",
        "in the up-left direction",
    ],
    "down-right": [
        "down and to the right", "down and right", "down to the right", "downward and to the right",
        "downwards and to the right", "down and rightward", "rightward and downward", "to the right and down",
        "diagonally down and to the right", "diagonally down-right", "diagonally toward the bottom right",
        "on a diagonal down to the right", "toward the bottom right", "towards the bottom-right corner",
        "to the lower right", "toward the lower-right corner", "toward the lower right of the frame", "southeast",
        "to the southeast", "from top left to bottom right", "in the down-right direction",
    ],
    "down-left": [
        "down and to the left", "down and left", "down to the left", "downward and to the left",
        "downwards and to the left", "down and leftward", "leftward and downward", "to the left and down",
        "diagonally down and to the left", "diagonally down-left", "diagonally toward the bottom left",
        "on a diagonal down to the left", "toward the bottom left", "towards the bottom-left corner",
        "to the lower left", "toward the lower-left corner", "toward the lower left of the frame", "southwest",
        "to the southwest", "from top right to bottom left", "in the down-left direction",
    ],
}
# Third-person singular verbs (or short verb phrases) for an object moving across the frame.
VERBS = [
    "moves", "glides", "slides", "travels", "shifts", "heads", "goes", "passes", "proceeds", "advances", "crosses",
    "is moving", "keeps moving", "continues", "steers", "skims", "migrates", "progresses", "journeys", "slips",
    "flies", "sets off", "translates", "moves along", "glides along", "slides along", "travels along", "flows",
    "is carried", "is pushed", "sweeps", "heads off", "relocates",
]
