"""The interactive dashboard (``abm dashboard``): a Mesa SolaraViz page that runs the model live
with its policy controls, or replays a finished run folder with a time slider. The views are
plain matplotlib drawings (:mod:`abm.dashboard.views`) of the frames a run writes."""
