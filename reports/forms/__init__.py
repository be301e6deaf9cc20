"""One module per printed form (SPEC §8, docs FORMS): CODE, EDITION, TITLE, LANDSCAPE, story(data, kit)."""
